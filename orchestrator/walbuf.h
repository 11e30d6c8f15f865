/*
 * An SQLite VFS shim that gathers the writes to a write-ahead log into one
 * buffer and writes them with one call when SQLite syncs, reads, resizes
 * or closes the log. SQLite writes each frame of a commit as two writes (a
 * 24-byte header, then the page): at full load the commit thread made 160
 * pwrite calls a commit, a third of its time on this machine.
 *
 * Only a connection opened with synchronous=FULL (or EXTRA) may use it:
 * such a connection syncs the log at every commit before it tells other
 * connections, through the shared index, that the new frames exist, so
 * no reader can be pointed at a frame that is still in the buffer, and
 * the buffer also goes out before the log's write lock is let go (after a
 * rollback, say). Every other method, and every other file, goes straight
 * to the VFS underneath ("unix").
 */
#ifndef WALBUF_H
#define WALBUF_H

/* The shim's name for sqlite3_open_v2(), registered on the first call
 * (thread-safe); NULL when SQLite has no default VFS to wrap. */
const char	*walbuf_vfs(void);

#endif
