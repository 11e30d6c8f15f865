/*
 * Callback tokens (callback.h). The token is the run id, the visit and
 * the attempt followed by the first 160 bits of their HMAC-SHA256, all in
 * base64url: readable by anyone, forged by nobody without the secret, and
 * bound to one attempt of one visit, so that a callback meant for an
 * earlier attempt (timed out, retried) is told apart from the current
 * one. Use once is the engine's part: the run stops waiting.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "callback.h"
#include "orchestrator.h"

#define CB_MAC_LEN	20
#define CB_BODY_LEN	(RUN_ID_LEN + 8)
#define CB_RAW_LEN	(CB_BODY_LEN + CB_MAC_LEN)

static const char cb_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Writes v big-endian in 4 bytes. */
static void
cb_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Reads 4 big-endian bytes. */
static uint32_t
cb_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* The MAC of the token's body. */
static void
cb_mac(const uint8_t *secret, const uint8_t body[CB_BODY_LEN],
    uint8_t mac[CB_MAC_LEN])
{
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	HMAC(EVP_sha256(), secret, CALLBACK_SECRET_LEN, body, CB_BODY_LEN,
	    full, &len);
	memcpy(mac, full, CB_MAC_LEN);
}

/* The value of a base64url character, or -1. */
static int
cb_b64_value(char c)
{
	const char *p = c != '\0' ? strchr(cb_b64, c) : NULL;

	return p != NULL ? (int)(p - cb_b64) : -1;
}

void
callback_token_make(const uint8_t secret[CALLBACK_SECRET_LEN],
    const struct callback_ref *ref, char tok[CALLBACK_TOKEN_LEN + 1])
{
	uint8_t raw[CB_RAW_LEN];
	uint32_t v;
	size_t i;

	memcpy(raw, ref->run_id, RUN_ID_LEN);
	cb_put32(raw + RUN_ID_LEN, (uint32_t)ref->seq);
	cb_put32(raw + RUN_ID_LEN + 4, (uint32_t)ref->attempt);
	cb_mac(secret, raw, raw + CB_BODY_LEN);
	/* 54 bytes: whole groups of three, no padding. */
	for (i = 0; i < CB_RAW_LEN / 3; i++) {
		v = (uint32_t)raw[3 * i] << 16 | (uint32_t)raw[3 * i + 1] << 8 |
		    raw[3 * i + 2];
		tok[4 * i] = cb_b64[v >> 18 & 63];
		tok[4 * i + 1] = cb_b64[v >> 12 & 63];
		tok[4 * i + 2] = cb_b64[v >> 6 & 63];
		tok[4 * i + 3] = cb_b64[v & 63];
	}
	tok[CALLBACK_TOKEN_LEN] = '\0';
}

/* Decodes a token's base64url: 0, or -1 when it is not one. */
static int
cb_decode(const char *tok, uint8_t raw[CB_RAW_LEN])
{
	uint32_t v;
	size_t i, j;
	int d;

	if (strlen(tok) != CALLBACK_TOKEN_LEN)
		return -1;
	for (i = 0; i < CB_RAW_LEN / 3; i++) {
		v = 0;
		for (j = 0; j < 4; j++) {
			if ((d = cb_b64_value(tok[4 * i + j])) < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		raw[3 * i] = (uint8_t)(v >> 16);
		raw[3 * i + 1] = (uint8_t)(v >> 8);
		raw[3 * i + 2] = (uint8_t)v;
	}
	return 0;
}

int
callback_token_check(const uint8_t secret[CALLBACK_SECRET_LEN],
    const char *tok, struct callback_ref *ref)
{
	uint8_t raw[CB_RAW_LEN], mac[CB_MAC_LEN];

	if (cb_decode(tok, raw) != 0)
		return -1;
	cb_mac(secret, raw, mac);
	if (CRYPTO_memcmp(mac, raw + CB_BODY_LEN, CB_MAC_LEN) != 0)
		return -1;
	memcpy(ref->run_id, raw, RUN_ID_LEN);
	ref->run_id[RUN_ID_LEN] = '\0';
	ref->seq = (int)cb_get32(raw + RUN_ID_LEN);
	ref->attempt = (int)cb_get32(raw + RUN_ID_LEN + 4);
	return 0;
}
