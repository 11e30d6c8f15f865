/*
 * orchestrator backup FILE: a consistent copy of a live SQLite store, with
 * its blob files in the folder beside FILE (store_backup), taken while a
 * server goes on serving. Restoring is serving the copy: `orchestrator
 * serve --db FILE` resumes the runs that were in flight. On PostgreSQL it
 * says to use pg_dump.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "store.h"

/* orchestrator backup FILE. */
int
cli_backup(int argc, char **argv)
{
	struct store_backup_stats	 st;
	struct cli_opts			 co;
	struct orc_error		 err;
	struct store			*s;
	const char			*db;
	int				 i, rc;

	if ((i = cli_parse("backup", argc, argv, NULL, NULL, NULL, &co)) < 0)
		return CLI_USAGE;
	if (i == argc)
		return cli_usage_error("backup", "FILE: where to write the "
		    "copy is missing");
	if (i + 1 != argc)
		return cli_usage_error("backup", "unexpected \"%s\"",
		    argv[i + 1]);
	db = cli_db(co.db);
	/* Read-only: a backup never migrates nor writes the store. */
	if ((s = cli_store_open(db, STORE_READONLY, NULL, &err)) == NULL)
		return cli_fail("backup", "%s", err.message);
	rc = store_backup(s, argv[i], &st, &err);
	store_close(s);
	if (rc != 0)
		return cli_fail("backup", "%s", err.message);
	printf("backed up %s to %s: %lld runs (%lld unfinished, resumed when "
	    "it is served), %lld blob files, %lld bytes\n", db, argv[i],
	    (long long)st.runs, (long long)st.unfinished,
	    (long long)st.blobs, (long long)st.bytes);
	return CLI_OK;
}
