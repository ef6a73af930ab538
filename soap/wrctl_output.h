/*
 * How wrctl shows results and errors. JSON output is the result exactly as the server sent it
 * (for scripts, with jq); table output is for people: a list of objects becomes a table with a
 * column per field, one object becomes "key: value" lines with nested fields flattened
 * ("token.id: 7", "grants[0].role: admin").
 */
#ifndef WEBRACK_WRCTL_OUTPUT_H
#define WEBRACK_WRCTL_OUTPUT_H

#include <stdio.h>

#include <jansson.h>

#define WRCTL_CELL_MAX 48 /* longer table cells are cut with "..." */

/* A scalar as text: null "-", booleans "yes"/"no", arrays of scalars comma-joined. */
void wrctl_output_scalar(const json_t *v, char *buf, size_t len);

/* A table of objects; columns: comma list, or NULL for every scalar field of the items. */
void wrctl_output_table(FILE *out, const json_t *items, const char *columns);

/* One object as flattened "key: value" lines. */
void wrctl_output_object(FILE *out, const json_t *obj);

/* A result in the chosen format (enum wrctl_output). */
void wrctl_output_result(FILE *out, const json_t *result, int format, const char *columns);

#endif
