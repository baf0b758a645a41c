/*
 * keys.h
 *		The phase names of following changes.
 *
 * Shared by the follow loop (follow.c), which records them in the state
 * (state_record_follow_phase), and by status, cutover and cleanup
 * (report.c, cmd_*.c), which read them; kept apart so that neither side
 * includes the other.
 */
#ifndef PGCRANE_CDC_KEYS_H
#define PGCRANE_CDC_KEYS_H

/* Phases. */
#define FOLLOW_PHASE_CATCHING_UP	"catching-up"
#define FOLLOW_PHASE_STREAMING		"streaming"
#define FOLLOW_PHASE_CUTOVER		"cutover"
#define FOLLOW_PHASE_DONE			"done"
#define FOLLOW_PHASE_RECONNECTING	"reconnecting"
#define FOLLOW_PHASE_STOPPED		"stopped"
#define FOLLOW_PHASE_FAILED			"failed"

#endif
