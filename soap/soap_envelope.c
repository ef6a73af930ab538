/*
 * SOAP 1.1 envelope codec. Parsing happens in three gates, each refusing with a message that
 * becomes a Client.Invalid fault: the raw bytes (NUL, UTF-8), libxml2 (well-formedness, with
 * every DTD declaration stopped by a SAX hook before its content is read, and the document
 * encoding forced to UTF-8), and a walk of the tree (limits, the envelope's shape, the WS-Security
 * header, and the operation's elements against its parameter schema). Only then are the
 * arguments handed back; a request either passes all gates or changes nothing.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "soap_envelope.h"

/* ------------------------------------------------------------------ parse */

struct parse {
	const struct soap_limits *lim;
	char *why;
	size_t whylen;
	bool dtd_seen;
	char xml_error[160];
	size_t elements;
};

static bool __attribute__((format(printf, 2, 3))) refuse(struct parse *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ps->why, ps->whylen, fmt, ap);
	va_end(ap);
	return false;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool
utf8_valid(const unsigned char *s, size_t len, size_t *bad)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned long cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			*bad = i;
			return false;
		}
		for (size_t k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80) {
				*bad = i;
				return false;
			}
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			*bad = i;
			return false;
		}
		i += n + 1;
	}
	return true;
}

/* SAX hooks: any DTD stops the parser before its content is read. */
static void
deny_subset(void *ctx, const xmlChar *name, const xmlChar *external_id, const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct parse *ps = ctxt->_private;

	ps->dtd_seen = true;
	xmlStopParser(ctxt);
}

static void
deny_entity(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
	    const xmlChar *system_id, xmlChar *content)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct parse *ps = ctxt->_private;

	ps->dtd_seen = true;
	xmlStopParser(ctxt);
}

static void
keep_first_error(void *ctx, xmlErrorPtr err)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct parse *ps = ctxt->_private;

	if (ps->xml_error[0] != '\0' || err == NULL || err->level < XML_ERR_ERROR)
		return;
	snprintf(ps->xml_error, sizeof(ps->xml_error), "line %d: %s", err->line,
		 err->message ? err->message : "malformed XML");
	ps->xml_error[strcspn(ps->xml_error, "\n")] = '\0';
}

/*
 * One parser context per thread, reused (xmlCtxtReadMemory() resets it): a fresh context per
 * request cost more than parsing the envelope itself. Only a context whose last document parsed
 * cleanly is kept; after any refusal, and once its dictionary of names holds more than
 * REUSE_MAX_NAMES (names of hostile documents must not accumulate) or after REUSE_MAX_PARSES
 * documents, it is freed and the next request starts from a new one. The options and hooks are
 * set again before every document, so a reused context parses exactly like a new one.
 */
#define REUSE_MAX_NAMES	 2048
#define REUSE_MAX_PARSES 4096
static __thread xmlParserCtxtPtr spare_ctxt;
static __thread unsigned spare_uses;

static xmlDocPtr
read_document(struct parse *ps, const char *buf, size_t len)
{
	/* Not XML_PARSE_NOENT, DTDLOAD, DTDATTR, XINCLUDE or HUGE: libxml2's own caps stay on. */
	const int options = XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_NOERROR |
			    XML_PARSE_NOWARNING | XML_PARSE_IGNORE_ENC;
	xmlParserCtxtPtr ctxt = spare_ctxt;
	xmlDocPtr doc;

	spare_ctxt = NULL;
	if (ctxt == NULL) {
		ctxt = xmlNewParserCtxt();
		spare_uses = 0;
	}
	if (ctxt == NULL) {
		refuse(ps, "out of memory");
		return NULL;
	}
	ctxt->_private = ps;
	ctxt->sax->internalSubset = deny_subset;
	ctxt->sax->externalSubset = deny_subset;
	ctxt->sax->entityDecl = deny_entity;
	ctxt->sax->serror = keep_first_error;
	/*
	 * UTF-8 whatever the document declares: XML_PARSE_IGNORE_ENC drops the declaration's
	 * encoding, and the bytes passed utf8_valid() and hold no NUL, so libxml2's detection
	 * from the first bytes can only find UTF-8 (with or without its BOM; UTF-16/32 need NULs
	 * or bytes invalid in UTF-8, EBCDIC's "<?xm" is invalid UTF-8). Naming "UTF-8" here
	 * instead would install a converter that copies the whole input through iconv-like
	 * chunks for nothing (a third of the parse of a small envelope).
	 */
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL, options);
	if (ps->dtd_seen) {
		xmlFreeDoc(doc);
		doc = NULL;
		refuse(ps, "a document type declaration (DOCTYPE) is not allowed");
	} else if (doc == NULL) {
		refuse(ps, "malformed XML: %s",
		       ps->xml_error[0] ? ps->xml_error : "not well-formed");
	}
	ctxt->_private = NULL;
	if (doc != NULL && ps->xml_error[0] == '\0' && ctxt->wellFormed &&
	    ++spare_uses < REUSE_MAX_PARSES && ctxt->dict != NULL &&
	    xmlDictSize(ctxt->dict) <= REUSE_MAX_NAMES)
		spare_ctxt = ctxt;
	else
		xmlFreeParserCtxt(ctxt);
	return doc;
}

/* The limits, checked once over the whole tree before anything is interpreted. */
static bool
check_tree(struct parse *ps, xmlNodePtr node, size_t depth)
{
	if (depth > ps->lim->max_depth)
		return refuse(ps, "elements nested deeper than %zu levels", ps->lim->max_depth);
	if (++ps->elements > ps->lim->max_elements)
		return refuse(ps, "more than %zu elements", ps->lim->max_elements);
	for (xmlAttrPtr a = node->properties; a != NULL; a = a->next)
		for (xmlNodePtr t = a->children; t != NULL; t = t->next)
			if (t->content && strlen((const char *)t->content) > ps->lim->max_text)
				return refuse(ps, "an attribute value is longer than %zu bytes",
					      ps->lim->max_text);
	for (xmlNodePtr c = node->children; c != NULL; c = c->next) {
		switch (c->type) {
		case XML_ELEMENT_NODE:
			if (!check_tree(ps, c, depth + 1))
				return false;
			break;
		case XML_TEXT_NODE:
		case XML_CDATA_SECTION_NODE:
			if (c->content && strlen((const char *)c->content) > ps->lim->max_text)
				return refuse(ps, "a text is longer than %zu bytes",
					      ps->lim->max_text);
			break;
		case XML_COMMENT_NODE:
		case XML_PI_NODE:
			break;
		default:
			return refuse(ps, "unsupported XML node (type %d)", (int)c->type);
		}
	}
	return true;
}

static bool
ns_is(const xmlNode *n, const char *href)
{
	if (href == NULL)
		return n->ns == NULL || n->ns->href == NULL || n->ns->href[0] == '\0';
	return n->ns != NULL && n->ns->href != NULL && strcmp((const char *)n->ns->href, href) == 0;
}

static bool
named(const xmlNode *n, const char *href, const char *local)
{
	return n->type == XML_ELEMENT_NODE && ns_is(n, href) &&
	       strcmp((const char *)n->name, local) == 0;
}

static bool
is_blank(const xmlChar *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return false;
	return true;
}

/* Only element children (and whitespace, comments) are allowed here. */
static bool
elements_only(struct parse *ps, const xmlNode *n)
{
	for (const xmlNode *c = n->children; c != NULL; c = c->next)
		if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
		    !is_blank(c->content))
			return refuse(ps, "unexpected text inside <%s>", (const char *)n->name);
	return true;
}

/* The text of a leaf element; NULL (refused) when it has element children. */
static char *
leaf_text(struct parse *ps, const xmlNode *n)
{
	for (const xmlNode *c = n->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE) {
			refuse(ps, "<%s> must not contain elements", (const char *)n->name);
			return NULL;
		}
	xmlChar *t = xmlNodeGetContent(n);
	char *s = strdup(t ? (const char *)t : "");
	xmlFree(t);
	if (s == NULL)
		refuse(ps, "out of memory");
	return s;
}

static bool
attr_true(const xmlNode *n, const char *href, const char *name)
{
	xmlChar *v = xmlGetNsProp(n, (const xmlChar *)name, (const xmlChar *)href);
	bool yes = v != NULL &&
		   (strcmp((const char *)v, "true") == 0 || strcmp((const char *)v, "1") == 0);
	xmlFree(v);
	return yes;
}

/* ------------------------------------------------------------ WS-Security */

static bool
base64_syntax_ok(const char *s)
{
	size_t n = strlen(s), pad = 0;

	if (n < 4 || n > 256 || n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/'))
			return false;
	}
	return pad <= 2;
}

static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

bool
soap_parse_datetime(const char *s, time_t *out)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, se, off = 0;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':')
		return false;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	se = digits(s + 17, 2);
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || se < 0 || se > 60)
		return false;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh = digits(p + 1, 2), om = p[3] == ':' ? digits(p + 4, 2) : -1;
		if (oh < 0 || oh > 14 || om < 0 || om > 59)
			return false;
		off = (oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return false; /* a time without zone is ambiguous */
	}
	if (*p != '\0')
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*out = t - off;
	return true;
}

/* One child of the UsernameToken into *slot, refusing duplicates. */
static bool
token_field(struct parse *ps, const xmlNode *n, char **slot, const char *what)
{
	if (*slot != NULL)
		return refuse(ps, "duplicate <%s> in the UsernameToken", what);
	*slot = leaf_text(ps, n);
	return *slot != NULL;
}

static bool
parse_username_token(struct parse *ps, const xmlNode *tok, struct soap_wsse *w)
{
	if (!elements_only(ps, tok))
		return false;
	for (const xmlNode *c = tok->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (named(c, SOAP_NS_WSSE, "Username")) {
			if (!token_field(ps, c, &w->username, "Username"))
				return false;
		} else if (named(c, SOAP_NS_WSSE, "Password")) {
			xmlChar *type = xmlGetProp(c, (const xmlChar *)"Type");
			bool text = type == NULL ||
				    strcmp((const char *)type, SOAP_WSSE_PASSWORD_TEXT) == 0;
			xmlFree(type);
			if (!text)
				return refuse(ps, "only the PasswordText password type is "
						  "supported (over TLS)");
			if (!token_field(ps, c, &w->password, "Password"))
				return false;
		} else if (named(c, SOAP_NS_WSSE, "Nonce")) {
			if (!token_field(ps, c, &w->nonce, "Nonce"))
				return false;
		} else if (named(c, SOAP_NS_WSU, "Created")) {
			if (!token_field(ps, c, &w->created, "Created"))
				return false;
		} else {
			return refuse(ps, "unknown element <%s> in the UsernameToken",
				      (const char *)c->name);
		}
	}
	if (w->username == NULL || w->password == NULL)
		return refuse(ps, "the UsernameToken needs a Username and a Password");
	if (w->nonce != NULL && !base64_syntax_ok(w->nonce))
		return refuse(ps, "the Nonce must be base64 (4 to 256 characters)");
	if (w->created != NULL)
		w->has_created = soap_parse_datetime(w->created, &w->created_at);
	w->present = true;
	return true;
}

static bool
parse_header(struct parse *ps, const xmlNode *header, struct soap_wsse *w)
{
	bool security = false;

	if (!elements_only(ps, header))
		return false;
	for (const xmlNode *h = header->children; h != NULL; h = h->next) {
		if (h->type != XML_ELEMENT_NODE)
			continue;
		if (!named(h, SOAP_NS_WSSE, "Security")) {
			if (attr_true(h, SOAP_NS_ENV, "mustUnderstand"))
				return refuse(ps,
					      "header <%s> is marked mustUnderstand but is not "
					      "understood",
					      (const char *)h->name);
			continue;
		}
		if (security)
			return refuse(ps, "more than one WS-Security header");
		security = true;
		if (!elements_only(ps, h))
			return false;
		bool token = false;
		for (const xmlNode *c = h->children; c != NULL; c = c->next) {
			if (c->type != XML_ELEMENT_NODE)
				continue;
			if (named(c, SOAP_NS_WSSE, "UsernameToken")) {
				if (token)
					return refuse(ps, "more than one UsernameToken");
				token = true;
				if (!parse_username_token(ps, c, w))
					return false;
			}
			/* wsu:Timestamp and other tokens are not needed and ignored. */
		}
		if (!token)
			return refuse(ps, "the WS-Security header carries no UsernameToken");
	}
	return true;
}

/* -------------------------------------------------------------- arguments */

static bool parse_object(struct parse *ps, const xmlNode *el, const struct param *params,
			 json_t *obj);

static const struct param *
param_of(const struct param *params, const char *element)
{
	char name[SOAP_NAME_MAX];

	for (const struct param *p = params; p->name != NULL; p++)
		if (soap_element_name(p->name, name, sizeof(name)) && strcmp(name, element) == 0)
			return p;
	return NULL;
}

static bool
is_list(const struct param *p)
{
	return p->type == PARAM_ENUMSET || p->type == PARAM_ARRAY || p->type == PARAM_INTLIST;
}

static void
trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
		i++;
	memmove(s, s + i, n - i + 1);
}

static json_t *
scalar(struct parse *ps, const xmlNode *el, enum param_type type)
{
	const char *name = (const char *)el->name;
	char *text = leaf_text(ps, el);
	json_t *v = NULL;

	if (text == NULL)
		return NULL;
	switch (type) {
	case PARAM_INT:
	case PARAM_INTLIST: {
		trim(text);
		const char *p = text + (text[0] == '+' || text[0] == '-');
		char *end;
		if (*p < '0' || *p > '9' || strspn(p, "0123456789") != strlen(p)) {
			refuse(ps, "<%s> must be an integer", name);
			break;
		}
		errno = 0;
		long long n = strtoll(text[0] == '+' ? text + 1 : text, &end, 10);
		if (errno == ERANGE) {
			refuse(ps, "<%s> is out of range", name);
			break;
		}
		v = json_integer(n);
		break;
	}
	case PARAM_BOOL:
		trim(text);
		if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
			v = json_true();
		else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
			v = json_false();
		else
			refuse(ps, "<%s> must be true or false", name);
		break;
	default:
		v = json_string(text);
		if (v == NULL)
			refuse(ps, "<%s> is not valid text", name);
		break;
	}
	free(text);
	return v;
}

static json_t *
value_of(struct parse *ps, const xmlNode *el, const struct param *p)
{
	if (attr_true(el, SOAP_NS_XSI, "nil")) {
		for (const xmlNode *c = el->children; c != NULL; c = c->next)
			if (c->type == XML_ELEMENT_NODE ||
			    ((c->type == XML_TEXT_NODE) && !is_blank(c->content))) {
				refuse(ps, "<%s> is nil but not empty", (const char *)el->name);
				return NULL;
			}
		return json_null();
	}
	switch (p->type) {
	case PARAM_OBJECT:
	case PARAM_ARRAY:
		if (p->sub == NULL) {
			if (p->type == PARAM_ARRAY)
				return scalar(ps, el, PARAM_STRING);
			refuse(ps, "<%s> cannot be given over SOAP", (const char *)el->name);
			return NULL;
		}
		json_t *obj = json_object();
		if (obj == NULL || !parse_object(ps, el, p->sub, obj)) {
			json_decref(obj);
			return NULL;
		}
		return obj;
	case PARAM_ENUMSET:
		return scalar(ps, el, PARAM_STRING);
	default:
		return scalar(ps, el, p->type);
	}
}

/* The element children of el against params into obj (snake_case keys). */
static bool
parse_object(struct parse *ps, const xmlNode *el, const struct param *params, json_t *obj)
{
	char name[SOAP_NAME_MAX];

	if (!elements_only(ps, el))
		return false;
	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		const char *cname = (const char *)c->name;
		if (!ns_is(c, SOAP_NS_WR) && !ns_is(c, NULL))
			return refuse(ps, "element <%s> is in a foreign namespace", cname);
		const struct param *p = param_of(params, cname);
		if (p == NULL)
			return refuse(ps, "unknown element <%s> in <%s>", cname,
				      (const char *)el->name);
		json_t *have = json_object_get(obj, p->name);
		if (have != NULL && !is_list(p))
			return refuse(ps, "duplicate element <%s>", cname);
		json_t *v = value_of(ps, c, p);
		if (v == NULL)
			return false;
		if (is_list(p) && !json_is_null(v)) {
			if (have == NULL) {
				have = json_array();
				json_object_set_new(obj, p->name, have);
			}
			if (!json_is_array(have)) {
				json_decref(v);
				return refuse(ps, "<%s> is both nil and a list", cname);
			}
			json_array_append_new(have, v);
		} else {
			if (have != NULL) {
				json_decref(v);
				return refuse(ps, "duplicate element <%s>", cname);
			}
			json_object_set_new(obj, p->name, v);
		}
	}
	for (const struct param *p = params; p->name != NULL; p++) {
		if (p->required && json_object_get(obj, p->name) == NULL) {
			soap_element_name(p->name, name, sizeof(name));
			return refuse(ps, "missing element <%s> in <%s>", name,
				      (const char *)el->name);
		}
	}
	return true;
}

static bool
parse_body(struct parse *ps, const xmlNode *body, soap_lookup_fn lookup, void *arg,
	   struct soap_request *req)
{
	const xmlNode *op = NULL;

	if (!elements_only(ps, body))
		return false;
	for (const xmlNode *c = body->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (op != NULL)
			return refuse(ps, "the Body must hold exactly one operation element");
		op = c;
	}
	if (op == NULL)
		return refuse(ps, "the Body holds no operation element");
	if (!ns_is(op, SOAP_NS_WR))
		return refuse(ps, "the operation element must be in the namespace " SOAP_NS_WR);
	if (strlen((const char *)op->name) >= sizeof(req->operation))
		return refuse(ps, "unknown operation");
	snprintf(req->operation, sizeof(req->operation), "%s", (const char *)op->name);
	const struct param *params = lookup(req->operation, arg);
	if (params == NULL)
		return refuse(ps, "unknown operation '%s'", req->operation);
	req->args = json_object();
	if (req->args == NULL)
		return refuse(ps, "out of memory");
	if (!parse_object(ps, op, params, req->args))
		return false;
	char why[256];
	if (!schema_check(params, req->args, why, sizeof(why)))
		return refuse(ps, "%s", why);
	return true;
}

static bool
parse_envelope(struct parse *ps, const xmlNode *env, soap_lookup_fn lookup, void *arg,
	       struct soap_request *req)
{
	const xmlNode *header = NULL, *body = NULL;

	if (named(env, SOAP_NS_ENV12, "Envelope"))
		return refuse(ps, "SOAP 1.2 is not supported: use SOAP 1.1 (" SOAP_NS_ENV ")");
	if (!named(env, SOAP_NS_ENV, "Envelope"))
		return refuse(ps, "the document is not a SOAP 1.1 Envelope");
	if (!elements_only(ps, env))
		return false;
	for (const xmlNode *c = env->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (named(c, SOAP_NS_ENV, "Header") && header == NULL && body == NULL)
			header = c;
		else if (named(c, SOAP_NS_ENV, "Body") && body == NULL)
			body = c;
		else
			return refuse(ps, "unexpected element <%s> in the Envelope",
				      (const char *)c->name);
	}
	if (body == NULL)
		return refuse(ps, "the Envelope has no Body");
	if (header != NULL && !parse_header(ps, header, &req->wsse))
		return false;
	return parse_body(ps, body, lookup, arg, req);
}

bool
soap_envelope_parse(const char *buf, size_t len, const struct soap_limits *lim,
		    soap_lookup_fn lookup, void *arg, struct soap_request *req, char *why,
		    size_t whylen)
{
	struct parse ps = {.lim = lim, .why = why, .whylen = whylen};
	size_t bad;
	bool ok = false;

	memset(req, 0, sizeof(*req));
	if (len == 0)
		return refuse(&ps, "empty request");
	if (len > (size_t)0x7fffffff)
		return refuse(&ps, "request too large");
	if (memchr(buf, '\0', len) != NULL)
		return refuse(&ps, "the request contains a NUL byte");
	if (!utf8_valid((const unsigned char *)buf, len, &bad))
		return refuse(&ps, "invalid UTF-8 at byte %zu", bad);
	xmlDocPtr doc = read_document(&ps, buf, len);
	if (doc == NULL)
		return false;
	xmlNodePtr root = xmlDocGetRootElement(doc);
	if (root == NULL)
		refuse(&ps, "empty document");
	else if (check_tree(&ps, root, 1))
		ok = parse_envelope(&ps, root, lookup, arg, req);
	xmlFreeDoc(doc);
	if (!ok) {
		char op[sizeof(req->operation)];
		memcpy(op, req->operation, sizeof(op));
		soap_request_clear(req);
		memcpy(req->operation, op, sizeof(op));
	}
	return ok;
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
soap_request_clear(struct soap_request *req)
{
	json_decref(req->args);
	wipe_free(req->wsse.username);
	wipe_free(req->wsse.password);
	wipe_free(req->wsse.nonce);
	wipe_free(req->wsse.created);
	memset(req, 0, sizeof(*req));
}

/* ------------------------------------------------------------------ write */

struct sbuf {
	char *data;
	size_t len, cap;
	bool oom;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (d == NULL) {
			b->oom = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/*
 * Text as XML character data. JSON strings are valid UTF-8; characters XML 1.0 cannot carry
 * (C0 controls other than tab and line breaks, U+FFFE, U+FFFF) become U+FFFD.
 */
static void
sb_text(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		size_t run = 0;
		while (p[run] != '\0' && p[run] != '&' && p[run] != '<' && p[run] != '>' &&
		       p[run] != '"' && p[run] >= 0x20 && p[run] != 0xef)
			run++;
		sb_add(b, (const char *)p, run);
		p += run;
		switch (*p) {
		case '\0':
			return;
		case '&':
			sb_str(b, "&amp;");
			break;
		case '<':
			sb_str(b, "&lt;");
			break;
		case '>':
			sb_str(b, "&gt;");
			break;
		case '"':
			sb_str(b, "&quot;");
			break;
		case '\t':
			sb_str(b, "\t");
			break;
		case '\n':
			sb_str(b, "\n");
			break;
		case '\r':
			sb_str(b, "&#13;");
			break;
		case 0xef:
			if (p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf)) {
				sb_str(b, "\xef\xbf\xbd");
				p += 3;
				continue;
			}
			sb_add(b, (const char *)p, 1);
			break;
		default:
			sb_str(b, "\xef\xbf\xbd");
			break;
		}
		p++;
	}
}

static void
sb_open(struct sbuf *b, const char *name, bool nil)
{
	sb_str(b, "<");
	sb_str(b, name);
	sb_str(b, nil ? " xsi:nil=\"true\"/>" : ">");
}

static void
sb_close(struct sbuf *b, const char *name)
{
	sb_str(b, "</");
	sb_str(b, name);
	sb_str(b, ">");
}

static void write_generic(struct sbuf *b, const char *name, const json_t *v, size_t depth);
static void write_fields(struct sbuf *b, const struct param *schema, const json_t *obj,
			 size_t depth);

/* A JSON scalar as element text. */
static void
write_scalar_text(struct sbuf *b, const json_t *v)
{
	char num[64];

	if (json_is_string(v)) {
		sb_text(b, json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		sb_str(b, num);
	} else if (json_is_real(v)) {
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		sb_str(b, num);
	} else if (json_is_boolean(v)) {
		sb_str(b, json_is_true(v) ? "true" : "false");
	} else {
		char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (text != NULL)
			sb_text(b, text);
		free(text);
	}
}

/* Depth guards against results nested deeper than any schema (they come from the database). */
#define WRITE_DEPTH_MAX 32

static void
write_generic(struct sbuf *b, const char *name, const json_t *v, size_t depth)
{
	char el[SOAP_NAME_MAX];

	if (!soap_element_name(name, el, sizeof(el)) || depth > WRITE_DEPTH_MAX)
		return;
	if (json_is_array(v)) {
		size_t i;
		const json_t *e;
		json_array_foreach (v, i, e)
			write_generic(b, name, e, depth + 1);
		return;
	}
	if (json_is_null(v)) {
		sb_open(b, el, true);
		return;
	}
	sb_open(b, el, false);
	if (json_is_object(v)) {
		const char *k;
		const json_t *m;
		json_object_foreach ((json_t *)v, k, m)
			write_generic(b, k, m, depth + 1);
	} else {
		write_scalar_text(b, v);
	}
	sb_close(b, el);
}

static void
write_field(struct sbuf *b, const struct param *p, const json_t *v, size_t depth)
{
	char el[SOAP_NAME_MAX];

	if (!soap_element_name(p->name, el, sizeof(el)) || depth > WRITE_DEPTH_MAX)
		return;
	bool list = p->type == PARAM_ARRAY || p->type == PARAM_ENUMSET || p->type == PARAM_INTLIST;
	if (list) {
		/* A null or empty list is no element; a list is repeated elements. */
		size_t i;
		const json_t *e;
		if (json_is_null(v))
			return;
		if (!json_is_array(v)) {
			write_generic(b, p->name, v, depth);
			return;
		}
		json_array_foreach (v, i, e) {
			if (p->type == PARAM_ARRAY && p->sub != NULL && json_is_object(e)) {
				sb_open(b, el, false);
				write_fields(b, p->sub, e, depth + 1);
				sb_close(b, el);
			} else if (json_is_null(e)) {
				continue;
			} else {
				sb_open(b, el, false);
				write_scalar_text(b, e);
				sb_close(b, el);
			}
		}
		return;
	}
	if (json_is_null(v)) {
		sb_open(b, el, true);
		return;
	}
	if (p->type == PARAM_OBJECT && p->sub != NULL && json_is_object(v)) {
		sb_open(b, el, false);
		write_fields(b, p->sub, v, depth + 1);
		sb_close(b, el);
		return;
	}
	if (json_is_object(v) || json_is_array(v)) {
		write_generic(b, p->name, v, depth);
		return;
	}
	sb_open(b, el, false);
	write_scalar_text(b, v);
	sb_close(b, el);
}

/* The fields of schema in its order; members the schema does not know are left out. */
static void
write_fields(struct sbuf *b, const struct param *schema, const json_t *obj, size_t depth)
{
	for (const struct param *p = schema; p->name != NULL; p++) {
		const json_t *v = json_object_get(obj, p->name);
		if (v != NULL)
			write_field(b, p, v, depth);
	}
}

#define ENVELOPE_OPEN                                                                              \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"" SOAP_NS_ENV     \
	"\" xmlns:xsi=\"" SOAP_NS_XSI "\"><soap:Body>"
#define ENVELOPE_CLOSE "</soap:Body></soap:Envelope>\n"

char *
soap_envelope_response(const char *operation, const struct param *schema, const json_t *result,
		       size_t *len)
{
	struct sbuf b = {0};

	sb_str(&b, ENVELOPE_OPEN "<");
	sb_str(&b, operation);
	sb_str(&b, "Response xmlns=\"" SOAP_NS_WR "\">");
	if (json_is_object(result)) {
		if (schema != NULL) {
			write_fields(&b, schema, result, 0);
		} else {
			const char *k;
			const json_t *m;
			json_object_foreach ((json_t *)result, k, m)
				write_generic(&b, k, m, 0);
		}
	} else if (result != NULL) {
		write_generic(&b, "value", result, 0);
	}
	sb_str(&b, "</");
	sb_str(&b, operation);
	sb_str(&b, "Response>" ENVELOPE_CLOSE);
	if (b.oom) {
		free(b.data);
		return NULL;
	}
	*len = b.len;
	return b.data;
}

char *
soap_envelope_fault(const char *code, const char *message, size_t *len)
{
	struct sbuf b = {0};

	sb_str(&b, ENVELOPE_OPEN "<soap:Fault><faultcode>soap:");
	sb_text(&b, code);
	sb_str(&b, "</faultcode><faultstring>");
	sb_text(&b, message);
	sb_str(&b, "</faultstring><detail><wr:fault xmlns:wr=\"" SOAP_NS_WR "\"><wr:code>");
	sb_text(&b, code);
	sb_str(&b, "</wr:code><wr:message>");
	sb_text(&b, message);
	sb_str(&b, "</wr:message></wr:fault></detail></soap:Fault>" ENVELOPE_CLOSE);
	if (b.oom) {
		free(b.data);
		return NULL;
	}
	*len = b.len;
	return b.data;
}
