/*
 * The naming rule of the SOAP binding (see soap_names.h). The verb list is part of the public
 * interface: adding a verb renames every existing operation that contains it, so add verbs only
 * together with the first operation that uses them, and never remove one.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "soap_names.h"

static const char *const soap_verbs[] = {
	"get",	  "list",   "create", "update",	  "delete",  "set",    "start",	  "shutdown",
	"stop",	  "reset",  "pause",  "resume",	  "park",    "unpark", "resize",  "attach",
	"detach", "rescan", "revoke", "grant",	  "join",    "enrol",  "confirm", "disable",
	"wait",	  "login",  "logout", "allocate", "migrate", NULL,
};

/* Words written with more than their first letter in upper case. */
static const struct {
	const char *word, *spelled;
} special[] = {
	{"vserver", "VServer"},
	{"vdc", "VDC"},
	{"iso", "ISO"},
	{"totp", "TOTP"},
};

struct out {
	char *buf;
	size_t len, cap;
	bool ok;
};

static void
put(struct out *o, const char *s, size_t n, bool capital)
{
	for (size_t i = 0; i < n; i++) {
		if (o->len + 1 >= o->cap) {
			o->ok = false;
			return;
		}
		char ch = s[i];
		if (i == 0 && capital)
			ch = (char)toupper((unsigned char)ch);
		o->buf[o->len++] = ch;
	}
	o->buf[o->len] = '\0';
}

/* One word; first: the name's first word (stays lower case). */
static void
put_word(struct out *o, const char *w, size_t n, bool first, bool plural)
{
	bool done = false;

	if (!first) {
		for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
			if (strlen(special[i].word) == n && strncmp(special[i].word, w, n) == 0) {
				put(o, special[i].spelled, strlen(special[i].spelled), false);
				done = true;
				break;
			}
		}
	}
	if (!done)
		put(o, w, n, !first);
	if (plural && n > 0 && w[n - 1] != 's')
		put(o, "s", 1, false);
}

static bool
is_verb(const char *w, size_t n)
{
	for (size_t i = 0; soap_verbs[i] != NULL; i++)
		if (strlen(soap_verbs[i]) == n && strncmp(soap_verbs[i], w, n) == 0)
			return true;
	return false;
}

#define WORDS_MAX 16

bool
soap_op_name(const char *op, char *buf, size_t buflen)
{
	const char *word[WORDS_MAX];
	size_t wlen[WORDS_MAX], n = 0;
	struct out o = {buf, 0, buflen, buflen > 0};
	int verb = -1;

	if (buflen == 0)
		return false;
	buf[0] = '\0';
	for (const char *p = op; *p != '\0';) {
		size_t l = strcspn(p, "-");
		if (n == WORDS_MAX || l == 0)
			return false;
		word[n] = p;
		wlen[n++] = l;
		p += l;
		if (*p == '-')
			p++;
	}
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (is_verb(word[i], wlen[i]))
			verb = (int)i;
	if (verb < 0 || n == 1) {
		for (size_t i = 0; i < n; i++)
			put_word(&o, word[i], wlen[i], i == 0, false);
		return o.ok;
	}
	bool plural = wlen[verb] == 4 && strncmp(word[verb], "list", 4) == 0;
	put_word(&o, word[verb], wlen[verb], true, false);
	for (size_t i = 0; i < n; i++) {
		if ((int)i == verb)
			continue;
		bool last = i == n - 1 || (i == n - 2 && verb == (int)n - 1);
		put_word(&o, word[i], wlen[i], false, plural && last);
	}
	return o.ok;
}

bool
soap_element_name(const char *field, char *buf, size_t buflen)
{
	struct out o = {buf, 0, buflen, buflen > 0};
	bool upper = false;

	if (buflen == 0)
		return false;
	buf[0] = '\0';
	for (const char *p = field; *p != '\0'; p++) {
		if (*p == '_') {
			upper = o.len > 0;
			continue;
		}
		put(&o, p, 1, upper);
		upper = false;
	}
	return o.ok && o.len > 0;
}
