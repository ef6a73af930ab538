/*
 * A strict parser for the handshake part of RFB 3.8 (RFC 6143) and its VeNCrypt extension: the
 * few messages a console proxy reads before it starts relaying. Every function looks at the bytes
 * received so far and answers RFB_MORE (not complete yet: read more, nothing consumed), RFB_ERROR
 * (with a reason: close the connection) or RFB_DONE with *used set to the message's length. No
 * function allocates, and every length field is capped before anything is copied, so a peer
 * cannot make us buffer more than RFB_HANDSHAKE_MAX bytes.
 */
#ifndef WEBRACK_RFB_H
#define WEBRACK_RFB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rfb_status { RFB_ERROR = -1, RFB_MORE = 0, RFB_DONE = 1 };

#define RFB_VERSION_LEN	   12	      /* "RFB 003.008\n" */
#define RFB_REASON_MAX	   1024	      /* failure reasons we accept or send */
#define RFB_NAME_MAX	   4096	      /* desktop name in ServerInit */
#define RFB_CRED_MAX	   255	      /* VeNCrypt Plain user name and password */
#define RFB_DIM_MAX	   16384      /* framebuffer width and height */
#define RFB_HANDSHAKE_MAX  (8 * 1024) /* the largest message of the handshake */
#define RFB_SERVERINIT_MIN 24

/* Security types and VeNCrypt subtypes we use. */
#define RFB_SEC_INVALID	       0
#define RFB_SEC_NONE	       1
#define RFB_SEC_VNC	       2
#define RFB_SEC_VENCRYPT       19
#define RFB_VENCRYPT_PLAIN     256
#define RFB_VENCRYPT_TLSPLAIN  259
#define RFB_VENCRYPT_X509PLAIN 262

struct rfb_server_init {
	uint16_t width, height;
	uint8_t bpp, depth, big_endian, true_colour;
	uint32_t name_len;
};

/* "RFB 003.008\n": exactly twelve bytes, digits where digits belong; only 3.8 is accepted. */
int rfb_parse_version(const uint8_t *buf, size_t len, size_t *used, char *why, size_t whylen);

/*
 * The server's security types: count (1..32) and that many types; a count of 0 is a failure with
 * a reason string, reported as RFB_ERROR with the reason in why.
 */
int rfb_parse_security_types(const uint8_t *buf, size_t len, uint8_t *types, size_t *ntypes,
			     size_t *used, char *why, size_t whylen);

/* SecurityResult: 0 is success; anything else carries a reason (3.8), given in why. */
int rfb_parse_security_result(const uint8_t *buf, size_t len, size_t *used, char *why,
			      size_t whylen);

/* ServerInit: sane dimensions, pixel format and a capped name. */
int rfb_parse_server_init(const uint8_t *buf, size_t len, struct rfb_server_init *si, size_t *used,
			  char *why, size_t whylen);

/* One byte that must be one of allowed[0..n) (a client's security type choice, ClientInit). */
int rfb_parse_u8_choice(const uint8_t *buf, size_t len, const uint8_t *allowed, size_t n,
			uint8_t *out, size_t *used, char *why, size_t whylen);

/* The client's VeNCrypt version: exactly 0.2. */
int rfb_parse_vencrypt_version(const uint8_t *buf, size_t len, size_t *used, char *why,
			       size_t whylen);

/* The client's VeNCrypt subtype choice: a big-endian u32 that must be one of allowed. */
int rfb_parse_vencrypt_choice(const uint8_t *buf, size_t len, const uint32_t *allowed, size_t n,
			      uint32_t *out, size_t *used, char *why, size_t whylen);

/*
 * VeNCrypt Plain credentials: u32 user length, u32 password length (each <= RFB_CRED_MAX), the
 * user name and the password, copied NUL-terminated (no NUL allowed inside).
 */
int rfb_parse_plain_auth(const uint8_t *buf, size_t len, char *user, size_t userlen, char *pass,
			 size_t passlen, size_t *used, char *why, size_t whylen);

/* Big-endian helpers for building our own messages. */
void rfb_put_u32(uint8_t *p, uint32_t v);
uint32_t rfb_get_u32(const uint8_t *p);

/*
 * A failed SecurityResult (3.8): u32 1, u32 length, reason. Writes at most cap bytes into out and
 * returns the length.
 */
size_t rfb_build_failure(uint8_t *out, size_t cap, const char *reason);

#endif
