/*
 * WSDL generation. Types are inline (anonymous) so that every operation's request and response
 * read top-down in one place; integers become xsd:int or xsd:long with their range as facets,
 * strings carry their length limits, enumerations their values, optional elements
 * minOccurs="0", nullable ones nillable="true", lists maxOccurs="unbounded".
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "soap_envelope.h"
#include "soap_names.h"
#include "soap_wsdl.h"

#define TYPE_DEPTH_MAX 8

static const char *const fault_codes[] = {
	"Client.Invalid",  "Client.Unauthenticated", "Client.Denied",	"Client.NotFound",
	"Client.Conflict", "Client.Quota",	     "Client.TooLarge", "Client.Throttled",
	"Server.Busy",	   "Server.Unavailable",     "Server.Internal", NULL,
};

static void
xml_text(FILE *out, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

static void
indent(FILE *out, int level)
{
	for (int i = 0; i < level; i++)
		fputs("  ", out);
}

const struct op *
soap_op_find(const char *soap_name)
{
	char name[SOAP_NAME_MAX];

	for (const struct op *op = api_ops; op->name != NULL; op++) {
		if (op->flags & OP_NO_SOAP)
			continue;
		if (soap_op_name(op->name, name, sizeof(name)) && strcmp(name, soap_name) == 0)
			return op;
	}
	return NULL;
}

static bool
is_list(const struct param *p)
{
	return p->type == PARAM_ENUMSET || p->type == PARAM_INTLIST || p->type == PARAM_ARRAY;
}

static void write_sequence(FILE *out, const struct param *fields, bool result, int level,
			   int depth);

static void
write_restriction(FILE *out, const char *base, const struct param *p, bool result, int level)
{
	indent(out, level);
	fputs("<xsd:simpleType>\n", out);
	indent(out, level + 1);
	fprintf(out, "<xsd:restriction base=\"%s\">\n", base);
	if (p->choices != NULL) {
		for (size_t i = 0; p->choices[i] != NULL; i++) {
			indent(out, level + 2);
			fputs("<xsd:enumeration value=\"", out);
			xml_text(out, p->choices[i]);
			fputs("\"/>\n", out);
		}
	} else if (p->type == PARAM_INT || p->type == PARAM_INTLIST) {
		long long lo = p->type == PARAM_INTLIST && !result ? 0 : p->min;
		long long hi = p->type == PARAM_INTLIST && !result ? 65535 : p->max;
		indent(out, level + 2);
		fprintf(out, "<xsd:minInclusive value=\"%lld\"/>\n", lo);
		indent(out, level + 2);
		fprintf(out, "<xsd:maxInclusive value=\"%lld\"/>\n", hi);
	} else {
		indent(out, level + 2);
		fprintf(out, "<xsd:minLength value=\"%lld\"/>\n", p->min);
		indent(out, level + 2);
		fprintf(out, "<xsd:maxLength value=\"%lld\"/>\n", p->max);
	}
	indent(out, level + 1);
	fputs("</xsd:restriction>\n", out);
	indent(out, level);
	fputs("</xsd:simpleType>\n", out);
}

static void
write_element(FILE *out, const struct param *p, bool result, int level, int depth)
{
	char name[SOAP_NAME_MAX];
	const char *simple = NULL;
	bool restrict_it = false, complex = false;

	if (!soap_element_name(p->name, name, sizeof(name)))
		return;
	indent(out, level);
	fprintf(out, "<xsd:element name=\"%s\"", name);
	if (is_list(p)) {
		long long lo = 0, hi = -1;
		if (!result && p->required && p->type != PARAM_ARRAY)
			lo = p->min;
		if (!result && p->max > 0 && p->type != PARAM_INTLIST)
			hi = p->max;
		fprintf(out, " minOccurs=\"%lld\"", lo);
		if (hi < 0)
			fputs(" maxOccurs=\"unbounded\"", out);
		else
			fprintf(out, " maxOccurs=\"%lld\"", hi);
	} else {
		if (!p->required)
			fputs(" minOccurs=\"0\"", out);
		if (p->nullable)
			fputs(" nillable=\"true\"", out);
	}
	switch (p->type) {
	case PARAM_INT:
		simple = p->min >= INT32_MIN && p->max <= INT32_MAX ? "xsd:int" : "xsd:long";
		restrict_it = true;
		break;
	case PARAM_INTLIST:
		/* Parameters: core numbers 0..65535; results: ids as well. */
		simple = result ? "xsd:long" : "xsd:int";
		restrict_it = !result;
		break;
	case PARAM_STRING:
	case PARAM_SECRET:
	case PARAM_TEXT:
		simple = "xsd:string";
		restrict_it = !result && p->max > 0;
		break;
	case PARAM_BOOL:
		simple = "xsd:boolean";
		break;
	case PARAM_ENUM:
	case PARAM_ENUMSET:
		simple = "xsd:string";
		restrict_it = p->choices != NULL;
		break;
	case PARAM_OBJECT:
	case PARAM_ARRAY:
		if (p->sub != NULL && depth < TYPE_DEPTH_MAX)
			complex = true;
		else
			simple = p->type == PARAM_ARRAY ? "xsd:string" : "xsd:anyType";
		break;
	}
	if (!restrict_it && !complex && p->doc == NULL) {
		fprintf(out, " type=\"%s\"/>\n", simple);
		return;
	}
	if (!restrict_it && !complex)
		fprintf(out, " type=\"%s\"", simple);
	fputs(">\n", out);
	if (p->doc != NULL) {
		indent(out, level + 1);
		fputs("<xsd:annotation><xsd:documentation>", out);
		xml_text(out, p->doc);
		fputs("</xsd:documentation></xsd:annotation>\n", out);
	}
	if (restrict_it) {
		write_restriction(out, simple, p, result, level + 1);
	} else if (complex) {
		indent(out, level + 1);
		fputs("<xsd:complexType>\n", out);
		write_sequence(out, p->sub, result, level + 2, depth + 1);
		indent(out, level + 1);
		fputs("</xsd:complexType>\n", out);
	}
	indent(out, level);
	fputs("</xsd:element>\n", out);
}

static void
write_sequence(FILE *out, const struct param *fields, bool result, int level, int depth)
{
	indent(out, level);
	if (fields == NULL) {
		fputs("<xsd:sequence>\n", out);
		indent(out, level + 1);
		fputs("<xsd:any minOccurs=\"0\" maxOccurs=\"unbounded\" "
		      "processContents=\"skip\"/>\n",
		      out);
		indent(out, level);
		fputs("</xsd:sequence>\n", out);
		return;
	}
	if (fields[0].name == NULL) {
		fputs("<xsd:sequence/>\n", out);
		return;
	}
	fputs("<xsd:sequence>\n", out);
	for (const struct param *p = fields; p->name != NULL; p++)
		write_element(out, p, result, level + 1, depth);
	indent(out, level);
	fputs("</xsd:sequence>\n", out);
}

static void
write_top_element(FILE *out, const char *name, const char *doc, const struct param *fields,
		  bool result)
{
	fprintf(out, "      <xsd:element name=\"%s\">\n", name);
	if (doc != NULL) {
		fputs("        <xsd:annotation><xsd:documentation>", out);
		xml_text(out, doc);
		fputs("</xsd:documentation></xsd:annotation>\n", out);
	}
	fputs("        <xsd:complexType>\n", out);
	write_sequence(out, fields, result, 5, 0);
	fputs("        </xsd:complexType>\n      </xsd:element>\n", out);
}

/* Every operation offered over SOAP as op, with its SOAP name in the caller's buffer name. */
#define FOR_SOAP_OPS                                                                               \
	for (const struct op *op = api_ops; op->name != NULL; op++)                                \
		if (!(op->flags & OP_NO_SOAP) && soap_op_name(op->name, name, sizeof(name)))

static void
write_types(FILE *out)
{
	char name[SOAP_NAME_MAX], resp[SOAP_NAME_MAX + 16];

	fputs("  <wsdl:types>\n    <xsd:schema targetNamespace=\"" SOAP_NS_WR
	      "\" elementFormDefault=\"qualified\">\n",
	      out);
	fputs("      <xsd:simpleType name=\"FaultCode\">\n        <xsd:restriction "
	      "base=\"xsd:string\">\n",
	      out);
	for (size_t i = 0; fault_codes[i] != NULL; i++)
		fprintf(out, "          <xsd:enumeration value=\"%s\"/>\n", fault_codes[i]);
	fputs("        </xsd:restriction>\n      </xsd:simpleType>\n"
	      "      <xsd:element name=\"fault\">\n        <xsd:complexType>\n"
	      "          <xsd:sequence>\n"
	      "            <xsd:element name=\"code\" type=\"tns:FaultCode\"/>\n"
	      "            <xsd:element name=\"message\" type=\"xsd:string\"/>\n"
	      "          </xsd:sequence>\n        </xsd:complexType>\n      </xsd:element>\n",
	      out);
	FOR_SOAP_OPS
	{
		write_top_element(out, name, op->summary, op->params, false);
		snprintf(resp, sizeof(resp), "%sResponse", name);
		write_top_element(out, resp, op->result, op->result_schema, true);
	}
	fputs("    </xsd:schema>\n  </wsdl:types>\n", out);
}

bool
soap_wsdl_write(FILE *out, const char *location)
{
	char name[SOAP_NAME_MAX];

	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<!-- Generated by webrackd from the operation table (controller/api_ops.c); do not "
	      "edit. -->\n"
	      "<wsdl:definitions name=\"webrack\" targetNamespace=\"" SOAP_NS_WR "\"\n"
	      "    xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\"\n"
	      "    xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\"\n"
	      "    xmlns:xsd=\"" SOAP_NS_XSD "\"\n"
	      "    xmlns:tns=\"" SOAP_NS_WR "\">\n"
	      "  <wsdl:documentation>webrack SOAP API (SOAP 1.1, document/literal). Authenticate "
	      "every request with an HTTP header 'Authorization: Bearer TOKEN' or a WS-Security "
	      "UsernameToken (PasswordText with Nonce and Created). Faults carry a stable code in "
	      "faultcode (soap:Client.NotFound, ...) and in "
	      "detail/fault/code.</wsdl:documentation>\n",
	      out);
	write_types(out);
	fputs("  <wsdl:message name=\"fault\">\n    <wsdl:part name=\"fault\" "
	      "element=\"tns:fault\"/>\n"
	      "  </wsdl:message>\n",
	      out);
	FOR_SOAP_OPS
	{
		fprintf(out,
			"  <wsdl:message name=\"%sRequest\">\n    <wsdl:part name=\"parameters\" "
			"element=\"tns:%s\"/>\n  </wsdl:message>\n"
			"  <wsdl:message name=\"%sResponse\">\n    <wsdl:part name=\"parameters\" "
			"element=\"tns:%sResponse\"/>\n  </wsdl:message>\n",
			name, name, name, name);
	}
	fputs("  <wsdl:portType name=\"WebrackPortType\">\n", out);
	FOR_SOAP_OPS
	{
		fprintf(out, "    <wsdl:operation name=\"%s\">\n      <wsdl:documentation>", name);
		xml_text(out, op->summary);
		fprintf(out,
			" (JSON: %s)</wsdl:documentation>\n"
			"      <wsdl:input message=\"tns:%sRequest\"/>\n"
			"      <wsdl:output message=\"tns:%sResponse\"/>\n"
			"      <wsdl:fault name=\"fault\" message=\"tns:fault\"/>\n"
			"    </wsdl:operation>\n",
			op->name, name, name);
	}
	fputs("  </wsdl:portType>\n"
	      "  <wsdl:binding name=\"WebrackBinding\" type=\"tns:WebrackPortType\">\n"
	      "    <soap:binding style=\"document\" "
	      "transport=\"http://schemas.xmlsoap.org/soap/http\"/>\n",
	      out);
	FOR_SOAP_OPS
	{
		fprintf(out,
			"    <wsdl:operation name=\"%s\">\n"
			"      <soap:operation soapAction=\"" SOAP_NS_WR
			"#%s\" style=\"document\"/>\n"
			"      <wsdl:input><soap:body use=\"literal\"/></wsdl:input>\n"
			"      <wsdl:output><soap:body use=\"literal\"/></wsdl:output>\n"
			"      <wsdl:fault name=\"fault\"><soap:fault name=\"fault\" "
			"use=\"literal\"/></wsdl:fault>\n"
			"    </wsdl:operation>\n",
			name, name);
	}
	fputs("  </wsdl:binding>\n  <wsdl:service name=\"Webrack\">\n"
	      "    <wsdl:port name=\"WebrackPort\" binding=\"tns:WebrackBinding\">\n"
	      "      <soap:address location=\"",
	      out);
	xml_text(out, location);
	fputs("\"/>\n    </wsdl:port>\n  </wsdl:service>\n</wsdl:definitions>\n", out);
	return !ferror(out);
}

char *
soap_wsdl_generate(const char *location, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (f == NULL)
		return NULL;
	bool ok = soap_wsdl_write(f, location);
	if (fclose(f) != 0 || !ok) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* An example value of a parameter, as the JSON examples choose it. */
static void
write_example_value(FILE *out, const struct param *p)
{
	switch (p->type) {
	case PARAM_INT:
	case PARAM_INTLIST:
		fprintf(out, "%lld", p->min > 1 ? p->min : 1);
		break;
	case PARAM_BOOL:
		fputs("true", out);
		break;
	case PARAM_ENUM:
	case PARAM_ENUMSET:
		xml_text(out, p->choices[0]);
		break;
	case PARAM_OBJECT:
	case PARAM_ARRAY:
		break;
	case PARAM_STRING:
	case PARAM_SECRET:
	case PARAM_TEXT:
		fputs(strcmp(p->name, "code") == 0 ? "123456" : "example-text", out);
		break;
	}
}

void
soap_wsdl_write_doc(FILE *out, const struct op *op)
{
	char name[SOAP_NAME_MAX], el[SOAP_NAME_MAX];

	if (op->flags & OP_NO_SOAP) {
		fputs("SOAP: not offered (a session operation; SOAP authenticates every "
		      "request).\n\n",
		      out);
		return;
	}
	if (!soap_op_name(op->name, name, sizeof(name)))
		return;
	fprintf(out,
		"SOAP: `%s` (response `%sResponse`). Example:\n\n```xml\nPOST /soap  "
		"(Authorization: Bearer wrt_...)\n"
		"<soap:Envelope xmlns:soap=\"" SOAP_NS_ENV "\" xmlns:wr=\"" SOAP_NS_WR "\">\n"
		"  <soap:Body>\n    <wr:%s>\n",
		name, name, name);
	for (const struct param *p = op->params; p->name != NULL; p++) {
		if (!p->required || !soap_element_name(p->name, el, sizeof(el)))
			continue;
		fprintf(out, "      <wr:%s>", el);
		write_example_value(out, p);
		fprintf(out, "</wr:%s>\n", el);
	}
	fprintf(out, "    </wr:%s>\n  </soap:Body>\n</soap:Envelope>\n```\n\n", name);
}

void
soap_wsdl_list_open_results(FILE *out)
{
	char name[SOAP_NAME_MAX];

	FOR_SOAP_OPS
	{
		if (op->result_schema == NULL)
			fprintf(out, "%s (%s)\n", op->name, name);
	}
}
