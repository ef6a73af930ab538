/*
 * Unit tests for soap/soap_envelope.c and soap/soap_names.c: valid requests become the JSON
 * arguments the handlers know; every hostile or malformed request (DOCTYPE, entities, NUL,
 * bad UTF-8, nesting, long text, unknown/duplicate/missing elements, bad numbers, wrong
 * namespaces) is refused with a message; results and faults are well-formed XML in schema order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "soap_envelope.h"
#include "soap_names.h"

static const char *const colours[] = {"red", "green", NULL};
static const struct param p_get[] = {
	{"id", PARAM_INT, true, false, 1, 1000, NULL, "id"},
	{"timeout_seconds", PARAM_INT, false, false, 0, 300, NULL, "t"},
	{"name", PARAM_STRING, false, false, 1, 64, NULL, "name"},
	{"flag", PARAM_BOOL, false, false, 0, 0, NULL, "flag"},
	{"colours", PARAM_ENUMSET, false, false, 1, 2, colours, "colours"},
	{"quota", PARAM_INT, false, true, 0, 10, NULL, "nullable"},
	PARAM_END,
};

static const struct param *
lookup(const char *name, void *arg)
{
	return strcmp(name, "getThing") == 0 ? p_get : NULL;
}

#define ENV_OPEN                                                                                   \
	"<s:Envelope xmlns:s=\"" SOAP_NS_ENV "\" xmlns:w=\"" SOAP_NS_WR                            \
	"\" xmlns:xsi=\"" SOAP_NS_XSI "\">"
#define BODY(x) ENV_OPEN "<s:Body>" x "</s:Body></s:Envelope>"

static bool
parse(const char *doc, size_t len, struct soap_request *req, char *why, size_t whylen)
{
	const struct soap_limits lim = SOAP_LIMITS_DEFAULT;
	return soap_envelope_parse(doc, len, &lim, lookup, NULL, req, why, whylen);
}

/* Expect a refusal whose message contains fragment. */
static void
refused_n(const char *doc, size_t len, const char *fragment)
{
	struct soap_request req;
	char why[256] = "";

	if (parse(doc, len, &req, why, sizeof(why))) {
		fail_msg("accepted: %s", doc);
	}
	if (strstr(why, fragment) == NULL)
		fail_msg("'%s' does not mention '%s'", why, fragment);
	assert_null(req.args);
	soap_request_clear(&req);
}

static void
refused(const char *doc, const char *fragment)
{
	refused_n(doc, strlen(doc), fragment);
}

static void
test_valid(void **state)
{
	struct soap_request req;
	char why[256];
	const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" BODY(
		"<w:getThing><w:id> 5 </w:id><w:timeoutSeconds>+30</w:timeoutSeconds>"
		"<w:name>a &amp; &#x263A; <![CDATA[<b>]]></w:name><w:flag>1</w:flag>"
		"<w:colours>red</w:colours><!-- c --><w:colours>green</w:colours>"
		"<w:quota xsi:nil=\"true\"/></w:getThing>");

	assert_true(parse(doc, strlen(doc), &req, why, sizeof(why)));
	assert_string_equal(req.operation, "getThing");
	char *json = json_dumps(req.args, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(json, "{\"colours\":[\"red\",\"green\"],\"flag\":true,\"id\":5,"
				  "\"name\":\"a & \xe2\x98\xba <b>\",\"quota\":null,"
				  "\"timeout_seconds\":30}");
	free(json);
	assert_false(req.wsse.present);
	soap_request_clear(&req);

	/* Read as UTF-8 whatever the declaration says, with or without a UTF-8 BOM. */
	const char *const declared[] = {
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" BODY(
			"<w:getThing><w:id>1</w:id><w:name>\xc3\xa9</w:name></w:getThing>"),
		"<?xml version=\"1.0\" encoding=\"UTF-16\"?>" BODY(
			"<w:getThing><w:id>1</w:id><w:name>\xc3\xa9</w:name></w:getThing>"),
		"\xef\xbb\xbf<?xml version=\"1.0\"?>" BODY(
			"<w:getThing><w:id>1</w:id><w:name>\xc3\xa9</w:name></w:getThing>"),
		BODY("<w:getThing><w:id>1</w:id><w:name>\xc3\xa9</w:name></w:getThing>"),
	};
	for (size_t i = 0; i < sizeof(declared) / sizeof(declared[0]); i++) {
		if (!parse(declared[i], strlen(declared[i]), &req, why, sizeof(why)))
			fail_msg("document %zu refused: %s", i, why);
		assert_string_equal(json_string_value(json_object_get(req.args, "name")),
				    "\xc3\xa9");
		soap_request_clear(&req);
	}

	/* Unqualified parameter elements are accepted too. */
	const char *plain = BODY("<w:getThing><id>7</id></w:getThing>");
	assert_true(parse(plain, strlen(plain), &req, why, sizeof(why)));
	assert_int_equal(json_integer_value(json_object_get(req.args, "id")), 7);
	soap_request_clear(&req);
}

static void
test_wsse(void **state)
{
	struct soap_request req;
	char why[256];
	const char *doc =
		ENV_OPEN "<s:Header><x:Other xmlns:x=\"urn:x\"/>"
			 "<o:Security xmlns:o=\"" SOAP_NS_WSSE "\" xmlns:u=\"" SOAP_NS_WSU "\">"
			 "<u:Timestamp><u:Created>2026-01-01T00:00:00Z</u:Created></u:Timestamp>"
			 "<o:UsernameToken><o:Username>alice</o:Username>"
			 "<o:Password Type=\"" SOAP_WSSE_PASSWORD_TEXT "\">s3cret&lt;</o:Password>"
			 "<o:Nonce>bm9uY2Vub25jZQ==</o:Nonce>"
			 "<u:Created>2026-01-02T03:04:05.123+01:00</u:Created>"
			 "</o:UsernameToken></o:Security></s:Header>"
			 "<s:Body><w:getThing><w:id>1</w:id></w:getThing></s:Body></s:Envelope>";

	assert_true(parse(doc, strlen(doc), &req, why, sizeof(why)));
	assert_true(req.wsse.present);
	assert_string_equal(req.wsse.username, "alice");
	assert_string_equal(req.wsse.password, "s3cret<");
	assert_string_equal(req.wsse.nonce, "bm9uY2Vub25jZQ==");
	assert_true(req.wsse.has_created);
	assert_int_equal(req.wsse.created_at, 1767323045 - 3600);
	soap_request_clear(&req);

#define TOKEN(inner)                                                                               \
	ENV_OPEN "<s:Header><o:Security xmlns:o=\"" SOAP_NS_WSSE "\" xmlns:u=\"" SOAP_NS_WSU       \
		 "\"><o:UsernameToken>" inner "</o:UsernameToken></o:Security></s:Header>"         \
		 "<s:Body><w:getThing><w:id>1</w:id></w:getThing></s:Body></s:Envelope>"
	refused(TOKEN("<o:Username>a</o:Username>"), "needs a Username and a Password");
	refused(TOKEN("<o:Username>a</o:Username><o:Username>b</o:Username>"
		      "<o:Password>p</o:Password>"),
		"duplicate <Username>");
	refused(TOKEN("<o:Username>a</o:Username><o:Password Type=\"x#PasswordDigest\">p"
		      "</o:Password>"),
		"PasswordText");
	refused(TOKEN("<o:Username>a</o:Username><o:Password>p</o:Password><o:Nonce>!!"
		      "</o:Nonce>"),
		"base64");
	refused(TOKEN("<o:Username>a</o:Username><o:Password>p</o:Password><o:Extra/>"),
		"unknown element <Extra>");
	refused(ENV_OPEN "<s:Header><x:Must xmlns:x=\"urn:x\" s:mustUnderstand=\"1\"/>"
			 "</s:Header><s:Body><w:getThing><w:id>1</w:id></w:getThing></s:Body>"
			 "</s:Envelope>",
		"mustUnderstand");
}

static void
test_hostile(void **state)
{
	refused("<?xml version=\"1.0\"?><!DOCTYPE lol [<!ENTITY a \"aaaa\"><!ENTITY b "
		"\"&a;&a;&a;&a;\">]>" BODY("<w:getThing><w:id>&b;</w:id></w:getThing>"),
		"DOCTYPE");
	refused("<!DOCTYPE x SYSTEM \"http://127.0.0.1:1/x.dtd\">" BODY(
			"<w:getThing><w:id>1</w:id></w:getThing>"),
		"DOCTYPE");
	refused(BODY("<w:getThing><w:id>&xxe;</w:id></w:getThing>"), "malformed XML");
	refused(BODY("<w:getThing><xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" "
		     "href=\"file:///etc/passwd\"/></w:getThing>"),
		"foreign namespace");
	refused_n(BODY("<w:getThing><w:id>1\0</w:id></w:getThing>"),
		  sizeof(BODY("<w:getThing><w:id>1\0</w:id></w:getThing>")) - 1, "NUL");
	refused(BODY("<w:getThing><w:name>\xc3\x28</w:name><w:id>1</w:id></w:getThing>"),
		"invalid UTF-8");
	refused(BODY("<w:getThing><w:name>\xc0\xaf</w:name><w:id>1</w:id></w:getThing>"),
		"invalid UTF-8"); /* overlong "/" */
	refused(BODY("<w:getThing><w:name>\xed\xa0\x80</w:name><w:id>1</w:id></w:getThing>"),
		"invalid UTF-8"); /* surrogate */
	refused("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" BODY(
			"<w:getThing><w:name>\xe9</w:name><w:id>1</w:id></w:getThing>"),
		"invalid UTF-8");
	refused("", "empty");
	refused("<s:Envelope", "malformed XML");

	/* Nesting beyond the limit. */
	char deep[4096] = BODY("<w:getThing><w:id>1</w:id>");
	size_t n = strlen(deep) - strlen("</s:Body></s:Envelope>");
	deep[n] = '\0';
	for (int i = 0; i < 40; i++)
		strcat(deep, "<w:x>");
	for (int i = 0; i < 40; i++)
		strcat(deep, "</w:x>");
	strcat(deep, "</w:getThing></s:Body></s:Envelope>");
	refused(deep, "nested deeper");

	/* Text over the limit. */
	size_t big = 70000;
	char *doc = malloc(big + 512);
	strcpy(doc, ENV_OPEN "<s:Body><w:getThing><w:id>1</w:id><w:name>");
	size_t at = strlen(doc);
	memset(doc + at, 'a', big);
	strcpy(doc + at + big, "</w:name></w:getThing></s:Body></s:Envelope>");
	refused(doc, "longer than");
	free(doc);
}

static void
test_shape(void **state)
{
	refused("<Envelope xmlns=\"" SOAP_NS_ENV12 "\"><Body/></Envelope>", "SOAP 1.2");
	refused("<x/>", "not a SOAP 1.1 Envelope");
	refused(ENV_OPEN "</s:Envelope>", "no Body");
	refused(ENV_OPEN "<s:Body/><s:Body/></s:Envelope>", "unexpected element");
	refused(BODY(""), "no operation element");
	refused(BODY("<w:getThing><w:id>1</w:id></w:getThing><w:getThing/>"), "exactly one");
	refused(BODY("<getThing><id>1</id></getThing>"), "namespace");
	refused(BODY("<w:noSuch/>"), "unknown operation 'noSuch'");
	refused(BODY("text<w:getThing><w:id>1</w:id></w:getThing>"), "unexpected text");
}

static void
test_arguments(void **state)
{
	refused(BODY("<w:getThing/>"), "missing element <id>");
	refused(BODY("<w:getThing><w:id>1</w:id><w:id>2</w:id></w:getThing>"),
		"duplicate element <id>");
	refused(BODY("<w:getThing><w:id>1</w:id><w:other>2</w:other></w:getThing>"),
		"unknown element <other>");
	refused(BODY("<w:getThing><w:id>1</w:id><x:name xmlns:x=\"urn:x\">a</x:name>"
		     "</w:getThing>"),
		"foreign namespace");
	refused(BODY("<w:getThing><w:id>5x</w:id></w:getThing>"), "must be an integer");
	refused(BODY("<w:getThing><w:id></w:id></w:getThing>"), "must be an integer");
	refused(BODY("<w:getThing><w:id>99999999999999999999</w:id></w:getThing>"), "out of range");
	refused(BODY("<w:getThing><w:id>0</w:id></w:getThing>"), "between 1 and 1000");
	refused(BODY("<w:getThing><w:id>1001</w:id></w:getThing>"), "between 1 and 1000");
	refused(BODY("<w:getThing><w:id>1</w:id><w:flag>yes</w:flag></w:getThing>"),
		"true or false");
	refused(BODY("<w:getThing><w:id><w:x/></w:id></w:getThing>"), "must not contain");
	refused(BODY("<w:getThing><w:id xsi:nil=\"true\"/></w:getThing>"), "must not be null");
	refused(BODY("<w:getThing><w:id>1</w:id><w:colours>blue</w:colours></w:getThing>"),
		"'colours'");
	refused(BODY("<w:getThing><w:id>1</w:id><w:name>a\x01</w:name></w:getThing>"),
		"malformed XML"); /* XML 1.0 forbids the character itself */
	refused(BODY("<w:getThing><w:id>1</w:id><w:name>a&#1;</w:name></w:getThing>"),
		"malformed XML");
}

static bool
well_formed(const char *xml, size_t len)
{
	xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, "UTF-8",
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlFreeDoc(doc);
	return doc != NULL;
}

static const char *const states[] = {"on", "off", NULL};
static const struct param r_inner[] = {
	{"n", PARAM_INT, true, false, 0, 9, NULL, NULL, NULL},
	PARAM_END,
};
static const struct param r_thing[] = {
	{"id", PARAM_INT, true, false, 1, 9, NULL, NULL, NULL},
	{"state", PARAM_ENUM, true, false, 0, 0, states, NULL, NULL},
	{"note_text", PARAM_STRING, true, true, 0, 0, NULL, NULL, NULL},
	{"tags", PARAM_ARRAY, false, false, 0, 0, NULL, NULL, NULL},
	{"inner", PARAM_ARRAY, false, false, 0, 0, NULL, NULL, r_inner},
	{"owner", PARAM_OBJECT, true, false, 0, 0, NULL, NULL, r_inner},
	PARAM_END,
};

static void
test_response(void **state)
{
	json_t *res = json_pack("{s:s, s:I, s:n, s:[s,s], s:[{s:i},{s:i}], s:{s:i}, s:s}", "state",
				"on", "id", (json_int_t)3, "note_text", "tags", "a<b", "c&d",
				"inner", "n", 1, "n", 2, "owner", "n", 7, "extra", "x");
	size_t len;
	char *xml = soap_envelope_response("getThing", r_thing, res, &len);

	assert_non_null(xml);
	assert_true(well_formed(xml, len));
	assert_non_null(strstr(xml, "<getThingResponse xmlns=\"" SOAP_NS_WR "\"><id>3</id>"
				    "<state>on</state><noteText xsi:nil=\"true\"/>"
				    "<tags>a&lt;b</tags><tags>c&amp;d</tags>"
				    "<inner><n>1</n></inner><inner><n>2</n></inner>"
				    "<owner><n>7</n></owner></getThingResponse>"));
	free(xml);

	/* Without a schema: every member, generically. */
	xml = soap_envelope_response("getThing", NULL, res, &len);
	assert_true(well_formed(xml, len));
	assert_non_null(strstr(xml, "<extra>x</extra>"));
	free(xml);
	json_decref(res);

	/* Characters XML cannot carry are replaced, so the answer stays well-formed. */
	res = json_pack("{s:s}", "note_text", "a\x01\x1f\r\n\xef\xbf\xbe z");
	xml = soap_envelope_response("getThing", r_thing, res, &len);
	assert_true(well_formed(xml, len));
	assert_non_null(strstr(xml, "a\xef\xbf\xbd\xef\xbf\xbd&#13;\n\xef\xbf\xbd z"));
	free(xml);
	json_decref(res);

	xml = soap_envelope_fault("Client.NotFound", "vserver <x> not found", &len);
	assert_true(well_formed(xml, len));
	assert_non_null(strstr(xml, "<faultcode>soap:Client.NotFound</faultcode>"
				    "<faultstring>vserver &lt;x&gt; not found</faultstring>"));
	assert_non_null(strstr(xml, "<wr:code>Client.NotFound</wr:code>"));
	free(xml);
}

static void
test_datetime(void **state)
{
	time_t t;

	assert_true(soap_parse_datetime("1970-01-01T00:00:10Z", &t));
	assert_int_equal(t, 10);
	assert_true(soap_parse_datetime("1970-01-01T01:00:10+01:00", &t));
	assert_int_equal(t, 10);
	assert_true(soap_parse_datetime("1970-01-01T00:00:10.999-00:30", &t));
	assert_int_equal(t, 1810);
	assert_false(soap_parse_datetime("1970-01-01T00:00:10", &t));
	assert_false(soap_parse_datetime("1970-01-01 00:00:10Z", &t));
	assert_false(soap_parse_datetime("1970-13-01T00:00:10Z", &t));
	assert_false(soap_parse_datetime("1970-01-01T00:00:10Zjunk", &t));
	assert_false(soap_parse_datetime("1970-01-01T00:00:10.Z", &t));
}

static void
expect_op(const char *op, const char *soap)
{
	char buf[SOAP_NAME_MAX];

	assert_true(soap_op_name(op, buf, sizeof(buf)));
	assert_string_equal(buf, soap);
}

static void
test_names(void **state)
{
	char buf[SOAP_NAME_MAX];

	expect_op("vserver-get", "getVServer");
	expect_op("task-wait", "waitTask");
	expect_op("vserver-list", "listVServers");
	expect_op("iso-list", "listISOs");
	expect_op("vserver-attach-iso", "attachVServerISO");
	expect_op("user-set-password", "setUserPassword");
	expect_op("node-join-token-create", "createNodeJoinToken");
	expect_op("grant-list", "listGrants");
	expect_op("grant", "grant");
	expect_op("whoami", "whoami");
	expect_op("vserver-console-ticket", "vserverConsoleTicket");
	expect_op("totp-enrol", "enrolTOTP");
	assert_false(soap_op_name("a--b", buf, sizeof(buf)));
	assert_false(soap_op_name("vserver-get", buf, 5));
	assert_true(soap_element_name("timeout_seconds", buf, sizeof(buf)));
	assert_string_equal(buf, "timeoutSeconds");
	assert_true(soap_element_name("require_2fa", buf, sizeof(buf)));
	assert_string_equal(buf, "require2fa");
	assert_true(soap_element_name("id", buf, sizeof(buf)));
	assert_string_equal(buf, "id");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),	  cmocka_unit_test(test_wsse),
		cmocka_unit_test(test_hostile),	  cmocka_unit_test(test_shape),
		cmocka_unit_test(test_arguments), cmocka_unit_test(test_response),
		cmocka_unit_test(test_datetime),  cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
