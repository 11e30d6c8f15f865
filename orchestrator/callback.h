/*
 * Callback tokens: a step that waits for a callback hands out a URL
 * /callbacks/TOKEN. The token names the run, the step visit (seq) and the
 * attempt it is for, sealed with an HMAC-SHA256 under the server's secret
 * (store_secret "callback", the same for every node): checking one is
 * recomputing the MAC, so tokens need no table and any node checks any.
 */
#ifndef CALLBACK_H
#define CALLBACK_H

#include <stdint.h>

#include "store.h"

#define CALLBACK_SECRET_LEN	32
/* 26 + 4 + 4 + 20 bytes (id, seq, attempt, MAC) in base64url. */
#define CALLBACK_TOKEN_LEN	72

/* What a token is for. */
struct callback_ref {
	char		run_id[RUN_ID_LEN + 1];
	int		seq;		/* the step's visit */
	int		attempt;
};

/* Makes the token for ref; run_id must be RUN_ID_LEN long. */
void	callback_token_make(const uint8_t secret[CALLBACK_SECRET_LEN],
	    const struct callback_ref *, char tok[CALLBACK_TOKEN_LEN + 1]);
/* Fills ref from a token this secret made: 0, else -1 (malformed or
 * forged: nothing about it is to be trusted). */
int	callback_token_check(const uint8_t secret[CALLBACK_SECRET_LEN],
	    const char *tok, struct callback_ref *);

#endif
