/*
 * Database schema migrations: sql/NNN_name.sql applied in order, each once, recorded in
 * schema_version. Runs at start-up and for `webrackd --migrate`, before the event loop exists,
 * so it uses blocking libpq.
 */
#ifndef WEBRACK_MIGRATE_H
#define WEBRACK_MIGRATE_H

#include <stdbool.h>

#include <libpq-fe.h>

bool migrate_apply(PGconn *pg, const char *sql_dir) __attribute__((warn_unused_result));

#endif
