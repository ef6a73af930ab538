/*
 * The operation table described as JSON, for clients that drive themselves from it (wrctl) and for
 * anybody who wants the reference in machine-readable form. It is public: it holds nothing that
 * docs/API.md and the WSDL do not publish anyway, and a client needs it before it can even tell
 * which parameters a login takes.
 *
 * The answer has the envelope of the JSON binding: {"ok": true, "result": {"version", "binding",
 * "ops": [{"name", "summary", "flags", "mutates", "public", "params", "result",
 * "result_params" (the result's fields, when the table has a result schema)}]}}.
 * Parameters are written by schema_params_to_json() (common/schema_json.c), every field also when
 * it is zero, so a client never has to know the C defaults; wrctl reads them back with
 * schema_params_from_json() from the same file.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api_describe.h"
#include "api_ops.h"
#include "http.h"
#include "schema_json.h"

static json_t *
describe_flags(unsigned flags)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{OP_MUTATES, "mutates"},   {OP_PUBLIC, "public"},   {OP_PENDING_OK, "pending_ok"},
		{OP_ENROL_OK, "enrol_ok"}, {OP_NO_CSRF, "no_csrf"},
	};
	json_t *a = json_array();

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].bit)
			json_array_append_new(a, json_string(names[i].name));
	return a;
}

json_t *
api_describe_json(void)
{
	json_t *ops = json_array();

	for (const struct op *op = api_ops; op->name != NULL; op++) {
		json_t *o = json_pack("{s:s, s:s, s:o, s:b, s:b, s:o, s:s}", "name", op->name,
				      "summary", op->summary, "flags", describe_flags(op->flags),
				      "mutates", (op->flags & OP_MUTATES) != 0, "public",
				      (op->flags & OP_PUBLIC) != 0, "params",
				      schema_params_to_json(op->params), "result",
				      op->result ? op->result : "");
		/* The result's fields (api_results.h conventions), where the table has them. */
		if (o != NULL && op->result_schema != NULL)
			json_object_set_new(o, "result_params",
					    schema_params_to_json(op->result_schema));
		json_array_append_new(ops, o);
	}
	return json_pack("{s:i, s:s, s:o}", "version", API_DESCRIBE_VERSION, "binding",
			 "POST /api/v1/<name>", "ops", ops);
}

void
api_describe_handle(struct evhttp_request *req)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();

	http_add_security_headers(req);
	evhttp_add_header(h, "Content-Type", "application/json");
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		static const char msg[] = "{\"ok\":false,\"error\":{\"code\":\"invalid\","
					  "\"message\":\"use GET\"}}\n";
		evhttp_add_header(h, "Allow", "GET, HEAD");
		evbuffer_add(out, msg, strlen(msg));
		evhttp_send_reply(req, 405, "Method Not Allowed", out);
		evbuffer_free(out);
		return;
	}
	/* The same envelope as every answer of the JSON binding. */
	json_t *d = json_pack("{s:b, s:o}", "ok", 1, "result", api_describe_json());
	char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	if (text == NULL) {
		static const char msg[] = "{\"ok\":false,\"error\":{\"code\":\"busy\","
					  "\"message\":\"out of memory\"}}\n";
		evbuffer_add(out, msg, strlen(msg));
		evhttp_send_reply(req, 503, "Service Unavailable", out);
		evbuffer_free(out);
		return;
	}
	/* The table only changes with the binary: clients may keep it for a while. */
	evhttp_add_header(h, "Cache-Control", "public, max-age=300");
	evbuffer_add(out, text, strlen(text));
	evbuffer_add(out, "\n", 1);
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
	free(text);
}
