/*-------------------------------------------------------------------------
 *
 * catalog.h
 *		Catalog reads from C (see catalog.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_CATALOG_H
#define TRIBUTARY_CATALOG_H

#include "source/connector.h"

/* a job as its worker sees it */
typedef struct TributaryJob
{
	int32		id;
	char	   *name;
	char	   *mode;			/* full, cdc or full+cdc */
	char	   *options_json;	/* effective options, defaults filled in */
	int32		generation;
	TributarySource *source;
} TributaryJob;

extern TributaryJob *tributary_job_load(int32 job_id);

#endif							/* TRIBUTARY_CATALOG_H */
