/*-------------------------------------------------------------------------
 *
 * binlog_bytes.h
 *		Little-endian reads and error returns shared by the binlog event
 *		decoders (binlog_event.c, binlog_table_map.c); not for other
 *		files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_BINLOG_BYTES_H
#define TRIBUTARY_BINLOG_BYTES_H

/*
 * fail: set the error message; returns false for "return fail(...)".
 */
static inline bool
fail(char **err, const char *msg)
{
	*err = pstrdup(msg);
	return false;
}

/* rd16: a little-endian uint16 (the binlog's byte order). */
static inline uint16
rd16(const uint8 *p)
{
	return (uint16) (p[0] | (p[1] << 8));
}

/* rd32: a little-endian uint32. */
static inline uint32
rd32(const uint8 *p)
{
	return (uint32) p[0] | ((uint32) p[1] << 8) | ((uint32) p[2] << 16) | ((uint32) p[3] << 24);
}

/* rd48: a little-endian 6-byte integer (table ids). */
static inline uint64
rd48(const uint8 *p)
{
	return (uint64) rd32(p) | ((uint64) rd16(p + 4) << 32);
}

/* rd64: a little-endian uint64. */
static inline uint64
rd64(const uint8 *p)
{
	return (uint64) rd32(p) | ((uint64) rd32(p + 4) << 32);
}

/* binlog_event.c */
extern int	bl_post_header(const BinlogFormat *fmt, uint8 type);

#endif							/* TRIBUTARY_BINLOG_BYTES_H */
