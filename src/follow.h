/*-------------------------------------------------------------------------
 *
 * follow.h
 *		Source tables created while a job runs that match a rule it follows
 *		(see follow.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_FOLLOW_H
#define TRIBUTARY_FOLLOW_H

#include "catalog.h"

extern int	tributary_follow_scan(TributaryJob *job);

#endif							/* TRIBUTARY_FOLLOW_H */
