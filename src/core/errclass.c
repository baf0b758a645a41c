/*
 * errclass.c
 *		Which failures heal by waiting (see errclass.h for the classes).
 */
#include "core/errclass.h"

#include <stddef.h>
#include <string.h>

typedef struct state_class
{
	const char *sqlstate;
	errclass_kind kind;
} state_class;

/* SQLSTATEs outside class 08 that heal by waiting. */
static const state_class transient_states[] = {
	{"57P01", ERRCLASS_SHUTDOWN},	/* admin_shutdown */
	{"57P02", ERRCLASS_SHUTDOWN},	/* crash_shutdown */
	{"57P05", ERRCLASS_SHUTDOWN},	/* idle_session_timeout */
	{"57P03", ERRCLASS_STARTING},	/* cannot_connect_now */
	{"53300", ERRCLASS_CAPACITY},	/* too_many_connections */
	{"40001", ERRCLASS_CONFLICT},	/* serialization_failure */
	{"40P01", ERRCLASS_CONFLICT},	/* deadlock_detected */
	{"55006", ERRCLASS_IN_USE},		/* object_in_use */
	{"55P03", ERRCLASS_IN_USE},		/* lock_not_available */
};

typedef struct message_class
{
	const char *text;			/* a part of the message */
	errclass_kind kind;
	const char *sqlstate;		/* what a connection attempt infers */
} message_class;

/*
 * libpq's messages for failures that carry no SQLSTATE, and the server's
 * refusals of a new session as libpq reports them (in the C locale).  The
 * order matters for errclass_connect_sqlstate: the first match wins.
 */
static const message_class transient_messages[] = {
	{"not yet accepting connections", ERRCLASS_STARTING, "57P03"},
	{"the database system is starting up", ERRCLASS_STARTING, "57P03"},
	{"the database system is in recovery mode", ERRCLASS_STARTING, "57P03"},
	{"the database system is shutting down", ERRCLASS_STARTING, "57P03"},
	{"too many clients already", ERRCLASS_CAPACITY, "53300"},
	{"connection slots are reserved", ERRCLASS_CAPACITY, "53300"},
	{"too many connections for", ERRCLASS_CAPACITY, "53300"},
	{"exceeds max_wal_senders", ERRCLASS_CAPACITY, "53300"},
	{"terminating connection due to administrator command", ERRCLASS_SHUTDOWN, "57P01"},
	{"terminating connection due to immediate shutdown", ERRCLASS_SHUTDOWN, "57P01"},
	{"crash of another server process", ERRCLASS_SHUTDOWN, "57P02"},
	{"server closed the connection unexpectedly", ERRCLASS_CONNECTION, "08001"},
	{"no connection to the server", ERRCLASS_CONNECTION, "08001"},
	{"could not connect to server", ERRCLASS_CONNECTION, "08001"},
	{"Connection refused", ERRCLASS_CONNECTION, "08001"},
	{"could not receive data from server", ERRCLASS_CONNECTION, "08001"},
	{"could not send data to server", ERRCLASS_CONNECTION, "08001"},
	{"Connection reset by peer", ERRCLASS_CONNECTION, "08001"},
	{"Broken pipe", ERRCLASS_CONNECTION, "08001"},
	{"Network is unreachable", ERRCLASS_CONNECTION, "08001"},
	{"No route to host", ERRCLASS_CONNECTION, "08001"},
	{"Connection timed out", ERRCLASS_CONNECTION, "08001"},
	{"timeout expired", ERRCLASS_CONNECTION, "08001"},
	{"SSL SYSCALL error", ERRCLASS_CONNECTION, "08001"},
	{"SSL connection has been closed unexpectedly", ERRCLASS_CONNECTION, "08001"},
	{"Temporary failure in name resolution", ERRCLASS_CONNECTION, "08001"},
};

/* Refusals of a new session that waiting does not heal. */
static const message_class permanent_messages[] = {
	{"password authentication failed", ERRCLASS_PERMANENT, "28P01"},
	{"no pg_hba.conf entry", ERRCLASS_PERMANENT, "28000"},
};

#define LENGTH(a) (sizeof(a) / sizeof((a)[0]))

errclass_kind
errclass_of_sqlstate(const char *sqlstate)
{
	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return ERRCLASS_PERMANENT;
	if (strcmp(sqlstate, "57014") == 0)
		return ERRCLASS_CANCELED;
	/* Class 08, but a broken protocol does not mend. */
	if (strncmp(sqlstate, "08", 2) == 0)
		return strcmp(sqlstate, "08P01") == 0 ? ERRCLASS_PERMANENT
			: ERRCLASS_CONNECTION;
	for (size_t i = 0; i < LENGTH(transient_states); i++)
		if (strcmp(sqlstate, transient_states[i].sqlstate) == 0)
			return transient_states[i].kind;
	return ERRCLASS_PERMANENT;
}

/* The entry of transient_messages that message matches, or NULL. */
static const message_class *
match_message(const char *message)
{
	if (message == NULL)
		return NULL;
	for (size_t i = 0; i < LENGTH(transient_messages); i++)
		if (strstr(message, transient_messages[i].text))
			return &transient_messages[i];
	return NULL;
}

/* A socket file that is not there: the server is not running (yet). */
static bool
missing_socket(const char *message)
{
	return strstr(message, "socket") != NULL &&
		strstr(message, "No such file or directory") != NULL;
}

errclass_kind
errclass_of_message(const char *message)
{
	const message_class *m = match_message(message);

	if (m != NULL)
		return m->kind;
	if (message != NULL && missing_socket(message))
		return ERRCLASS_CONNECTION;
	return ERRCLASS_PERMANENT;
}

errclass_kind
errclass_classify(const char *sqlstate, const char *message,
				  bool connection_bad)
{
	errclass_kind k = errclass_of_sqlstate(sqlstate);

	if (errclass_is_transient(k))
		return k;
	/* A COPY ended with 57014 after its other side broke: the break counts. */
	if (connection_bad)
		return ERRCLASS_CONNECTION;
	if (sqlstate != NULL && sqlstate[0] != '\0')
		return k;
	return errclass_of_message(message);
}

bool
errclass_is_transient(errclass_kind kind)
{
	return kind != ERRCLASS_PERMANENT && kind != ERRCLASS_CANCELED;
}

bool
errclass_transient(const char *sqlstate, const char *message,
				   bool connection_bad)
{
	return errclass_is_transient(errclass_classify(sqlstate, message,
												   connection_bad));
}

const char *
errclass_name(errclass_kind kind)
{
	switch (kind)
	{
		case ERRCLASS_PERMANENT:
			return "permanent";
		case ERRCLASS_CANCELED:
			return "canceled";
		case ERRCLASS_CONNECTION:
			return "connection";
		case ERRCLASS_SHUTDOWN:
			return "shutdown";
		case ERRCLASS_STARTING:
			return "starting";
		case ERRCLASS_CAPACITY:
			return "capacity";
		case ERRCLASS_CONFLICT:
			return "conflict";
		case ERRCLASS_IN_USE:
			return "in use";
	}
	return "permanent";
}

const char *
errclass_connect_sqlstate(const char *message)
{
	const message_class *m;

	if (message == NULL)
		return "";
	if (strstr(message, "database") && strstr(message, "does not exist"))
		return "3D000";
	if (strstr(message, "role \"") && strstr(message, "does not exist"))
		return "28000";
	for (size_t i = 0; i < LENGTH(permanent_messages); i++)
		if (strstr(message, permanent_messages[i].text))
			return permanent_messages[i].sqlstate;
	m = match_message(message);
	if (m != NULL)
		return m->sqlstate;
	return missing_socket(message) ? "08001" : "";
}
