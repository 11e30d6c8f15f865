/*
 * Run ids: ULIDs (26 characters of Crockford base32, 48 bits of
 * milliseconds then 80 random bits), so ids sort by creation time. Within
 * one millisecond the random part counts up, keeping a process's ids in
 * order.
 */
#ifndef ID_H
#define ID_H

#include <stdint.h>

#define ID_LEN 26

/* Writes a new id and its NUL into out. */
void	id_new(char out[ID_LEN + 1]);
/* Encodes a given time and random part (for tests and range queries). */
void	id_encode(int64_t ms, const unsigned char rnd[10],
	    char out[ID_LEN + 1]);
/* 1 when s looks like an id. */
int	id_valid(const char *s);
/* The 128 bits of an id, most significant first; -1 when it is not one. */
int	id_bytes(const char *s, unsigned char out[16]);
/* The millisecond time of an id, or -1. */
int64_t	id_time_ms(const char *s);

#endif
