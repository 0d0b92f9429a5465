/*-------------------------------------------------------------------------
 *
 * fuzz_alloc.h
 *		The fuzz targets' allocator (see fuzz_alloc.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FUZZ_ALLOC_H
#define FUZZ_ALLOC_H

extern void fuzz_free_all(void);

#endif							/* FUZZ_ALLOC_H */
