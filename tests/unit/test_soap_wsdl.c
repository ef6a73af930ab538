/*
 * Unit tests for soap/soap_wsdl.c and the result schemas: the WSDL is well-formed and names
 * every operation of the table that SOAP offers, exactly once and under a unique name that
 * leads back to the same row; the choice lists of the result schemas use rights.c's names.
 * Operations without a result schema are listed on stderr (the WSDL types them as xsd:any).
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
#include <libxml/tree.h>

#include "api_ops.h"
#include "api_results.h"
#include "rights.h"
#include "server.h"
#include "soap_names.h"
#include "soap_wsdl.h"

/* The operation table links the whole controller; main.c's one function is not needed here. */
void
server_call_done(struct server *srv)
{
}

static void
test_wsdl_well_formed(void **state)
{
	size_t len = 0;
	char *wsdl = soap_wsdl_generate("https://example.test:8443/soap", &len);

	assert_non_null(wsdl);
	xmlDocPtr doc = xmlReadMemory(wsdl, (int)len, NULL, "UTF-8",
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	assert_non_null(doc);
	xmlFreeDoc(doc);
	assert_non_null(strstr(wsdl, "location=\"https://example.test:8443/soap\""));
	assert_non_null(strstr(wsdl, "<wsdl:operation name=\"waitTask\">"));
	assert_non_null(strstr(wsdl, "<xsd:element name=\"getVServerResponse\">"));
	assert_null(strstr(wsdl, "name=\"login\""));
	free(wsdl);
}

static void
test_every_op_named_once(void **state)
{
	char name[SOAP_NAME_MAX], tag[SOAP_NAME_MAX + 40];
	size_t len = 0, offered = 0;
	char *wsdl = soap_wsdl_generate("https://x/soap", &len);

	for (const struct op *op = api_ops; op->name != NULL; op++) {
		assert_true(soap_op_name(op->name, name, sizeof(name)));
		if (op->flags & OP_NO_SOAP) {
			assert_null(soap_op_find(name));
			continue;
		}
		offered++;
		if (soap_op_find(name) != op)
			fail_msg("%s: SOAP name %s is not unique", op->name, name);
		snprintf(tag, sizeof(tag), "<wsdl:operation name=\"%s\">", name);
		const char *first = strstr(wsdl, tag);
		assert_non_null(first);
		/* Once in the portType, once in the binding. */
		const char *second = strstr(first + 1, tag);
		assert_non_null(second);
		assert_null(strstr(second + 1, tag));
		if (op->result_schema == NULL)
			fprintf(stderr, "# note: %s (%s) has no result schema\n", op->name, name);
	}
	assert_true(offered > 40);
	free(wsdl);
}

static void
check_choices(const struct param *fields, int depth)
{
	assert_true(depth < 8);
	for (const struct param *p = fields; p->name != NULL; p++) {
		if (p->sub != NULL)
			check_choices(p->sub, depth + 1);
		if (p->choices == NULL)
			continue;
		for (size_t i = 0; p->choices[i] != NULL; i++) {
			uint32_t priv;
			enum role role;
			enum scope_type scope;
			const char *c = p->choices[i];
			if (strcmp(p->name, "privileges") == 0 ||
			    strcmp(p->name, "account_privileges") == 0)
				assert_true(rights_priv_parse(c, &priv));
			else if (strcmp(p->name, "role") == 0)
				assert_true(rights_role_parse(c, &role));
			else if (strcmp(p->name, "scope_type") == 0)
				assert_true(rights_scope_parse(c, &scope));
		}
	}
}

static void
test_result_choices(void **state)
{
	for (const struct op *op = api_ops; op->name != NULL; op++)
		if (op->result_schema != NULL)
			check_choices(op->result_schema, 0);
	/* Every privilege is listed. */
	const struct param *privs = NULL;
	for (const struct param *p = r_token; p->name != NULL; p++)
		if (strcmp(p->name, "privileges") == 0)
			privs = p;
	assert_non_null(privs);
	size_t n = 0;
	while (privs->choices[n] != NULL)
		n++;
	assert_int_equal(n, PRIV_COUNT);
}

static void
test_doc(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	soap_wsdl_write_doc(f, api_op_find("task-wait"));
	soap_wsdl_write_doc(f, api_op_find("login"));
	fclose(f);
	assert_non_null(strstr(buf, "SOAP: `waitTask`"));
	assert_non_null(strstr(buf, "<wr:waitTask>\n      <wr:id>1</wr:id>\n"));
	assert_non_null(strstr(buf, "not offered"));
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wsdl_well_formed),
		cmocka_unit_test(test_every_op_named_once),
		cmocka_unit_test(test_result_choices),
		cmocka_unit_test(test_doc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
