/*-------------------------------------------------------------------------
 *
 * pgoutput_read.h
 *		Reading the pgoutput stream (see pgoutput_read.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_PGOUTPUT_READ_H
#define TRIBUTARY_PGOUTPUT_READ_H

#include "decoder/proto.h"

extern void tributary_read_pgoutput(StringInfo in, bool in_stream, TribMessage *msg);

#endif							/* TRIBUTARY_PGOUTPUT_READ_H */
