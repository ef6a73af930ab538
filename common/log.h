/*
 * Logging for every webrack binary: levels, stderr or syslog, and one line per event that names
 * the object it is about. Messages are formatted once, here, so every daemon logs alike.
 */
#ifndef WEBRACK_LOG_H
#define WEBRACK_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

void log_open(const char *ident, bool use_syslog);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_level_parse(const char *name, enum log_level *out) __attribute__((warn_unused_result));
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __func__, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __func__, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_get_level() >= LOG_LVL_DEBUG)                                              \
			log_msg(LOG_LVL_DEBUG, __func__, __VA_ARGS__);                             \
	} while (0)

#endif
