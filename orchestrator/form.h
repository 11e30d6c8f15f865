/*
 * application/x-www-form-urlencoded decoding, shared by the json.decode
 * step and the HTTP server's webhook bodies.
 */
#ifndef FORM_H
#define FORM_H

#include <jansson.h>

#include "orchestrator.h"

/*
 * Parses form text s[0..n) into a new object; a repeated key turns into an
 * array of its values. NULL when an escape is broken, a key holds a NUL or
 * the bytes are not UTF-8. strict also wants it to look like a form: no
 * spaces or control characters, a key and '=' in every pair, not empty.
 */
json_t	*form_decode(const char *s, size_t n, int strict);

#endif
