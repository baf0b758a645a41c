/*
 * keys.h
 *		The state file keys and phase names of following changes.
 *
 * Shared by the follow loop (follow.c), which writes them, and by status,
 * cutover and cleanup (report.c, cmd_*.c), which read them; kept apart so
 * that neither side includes the other.
 */
#ifndef PGCRANE_CDC_KEYS_H
#define PGCRANE_CDC_KEYS_H

/* The state's keys. */
#define FOLLOW_KEY_SLOT			"follow.slot"
#define FOLLOW_KEY_PUBLICATION	"follow.publication"
#define FOLLOW_KEY_ORIGIN		"follow.origin"
#define FOLLOW_KEY_START_LSN	"follow.start_lsn"
#define FOLLOW_KEY_PHASE		"follow.phase"
#define FOLLOW_KEY_PID			"follow.pid"
#define FOLLOW_KEY_UPDATED_AT	"follow.updated_at"
#define FOLLOW_KEY_ERROR		"follow.error"
#define FOLLOW_KEY_RECONNECT_ATTEMPT	"follow.reconnect_attempt"
#define FOLLOW_KEY_LAST_ERROR	"follow.last_error"
#define CUTOVER_KEY_REQUESTED	"cutover.requested"
#define CUTOVER_KEY_LSN			"cutover.lsn"
#define CUTOVER_KEY_DONE_AT		"cutover.done_at"
#define CLEANUP_KEY_DONE_AT		"cleanup.done_at"

/* Phases. */
#define FOLLOW_PHASE_CATCHING_UP	"catching-up"
#define FOLLOW_PHASE_STREAMING		"streaming"
#define FOLLOW_PHASE_CUTOVER		"cutover"
#define FOLLOW_PHASE_DONE			"done"
#define FOLLOW_PHASE_RECONNECTING	"reconnecting"
#define FOLLOW_PHASE_STOPPED		"stopped"
#define FOLLOW_PHASE_FAILED			"failed"

#endif
