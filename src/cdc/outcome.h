/*
 * outcome.h
 *		How a step of the follow ends: one list for the replication
 *		stream, the apply session and the follow loop, so that a code
 *		means the same in every module that passes it on.
 */
#ifndef PGCRANE_CDC_OUTCOME_H
#define PGCRANE_CDC_OUTCOME_H

typedef enum cdc_outcome
{
	CDC_REPLAY = -4,			/* a schema stop inside a target transaction
								 * shared by several source transactions:
								 * replay them each on its own at once */
	CDC_MISMATCH = -3,			/* the target's table does not match the
								 * source's: the follow stops */
	CDC_LOST = -2,				/* a connection was lost or a server is away:
								 * try again later (the failure is filled) */
	CDC_FAILED = -1,			/* give up (the failure is filled) */
	CDC_OK = 0
} cdc_outcome;

#endif
