/*-------------------------------------------------------------------------
 *
 * binlog.h
 *		The MySQL / MariaDB binary log: event framing (binlog_event.c), row
 *		images and their values (binlog_rows.c), MySQL binary JSON
 *		(binlog_json.c) and MySQL GTID sets (binlog_gtid.c).
 *
 * These decoders read bytes only: no server, no catalog, no ereport.  Every
 * function validates what it reads and returns false with a message in
 * *err on anything malformed, so that the connector (mysql_stream.c) can
 * raise a proper error and the fuzz target (fuzz/binlog_fuzz.c) can feed
 * them arbitrary input.  They compile in the backend and, with FRONTEND
 * defined, against libpgcommon.
 *
 * An event is its 19-byte common header (timestamp u32, type u8,
 * server_id u32, event_size u32, log_pos u32, flags u16; little endian),
 * a post-header whose length the FORMAT_DESCRIPTION event gives per type,
 * a body, and a 4-byte CRC32 when the format says checksums are on.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_BINLOG_H
#define TRIBUTARY_BINLOG_H

#include "lib/stringinfo.h"

/* event types (MySQL's Log_event_type; 160+ are MariaDB's) */
#define BL_QUERY					2
#define BL_STOP						3
#define BL_ROTATE					4
#define BL_INTVAR					5
#define BL_RAND						13
#define BL_USER_VAR					14
#define BL_FORMAT_DESCRIPTION		15
#define BL_XID						16
#define BL_TABLE_MAP				19
#define BL_WRITE_ROWS_V1			23
#define BL_UPDATE_ROWS_V1			24
#define BL_DELETE_ROWS_V1			25
#define BL_INCIDENT					26
#define BL_HEARTBEAT				27
#define BL_ROWS_QUERY				29
#define BL_WRITE_ROWS				30
#define BL_UPDATE_ROWS				31
#define BL_DELETE_ROWS				32
#define BL_GTID						33
#define BL_ANONYMOUS_GTID			34
#define BL_PREVIOUS_GTIDS			35
#define BL_TRANSACTION_CONTEXT		36
#define BL_VIEW_CHANGE				37
#define BL_XA_PREPARE				38
#define BL_PARTIAL_UPDATE_ROWS		39
#define BL_TRANSACTION_PAYLOAD		40
#define BL_HEARTBEAT_V2				41
#define BL_GTID_TAGGED				42
#define BL_MARIA_ANNOTATE_ROWS		160
#define BL_MARIA_BINLOG_CHECKPOINT	161
#define BL_MARIA_GTID				162
#define BL_MARIA_GTID_LIST			163
#define BL_MARIA_START_ENCRYPTION	164
#define BL_MARIA_QUERY_COMPRESSED	165
#define BL_MARIA_WRITE_ROWS_COMPRESSED		166
#define BL_MARIA_UPDATE_ROWS_COMPRESSED		167
#define BL_MARIA_DELETE_ROWS_COMPRESSED		168
#define BL_MARIA_WRITE_ROWS_COMPRESSED_V1	169
#define BL_MARIA_UPDATE_ROWS_COMPRESSED_V1	170
#define BL_MARIA_DELETE_ROWS_COMPRESSED_V1	171

#define BL_HEADER_LEN				19
#define BL_CHECKSUM_LEN				4
#define BL_FLAG_IN_USE				0x0001
#define BL_FLAG_ARTIFICIAL			0x0020
#define BL_START_V3					1
#define BL_MARIA_GTID_STANDALONE	0x01
/* rows event flags */
#define BL_ROWS_NO_FK_CHECKS		0x0002
#define BL_MARIA_GTID_COMMIT_ID		0x02
#define BL_MARIA_GTID_PREPARED_XA	0x40
#define BL_MARIA_GTID_COMPLETED_XA	0x80
#define BL_MARIA_GTID_XA			(BL_MARIA_GTID_PREPARED_XA | BL_MARIA_GTID_COMPLETED_XA)

/* an XA transaction identifier: gtrid then bqual in data, at most 64 bytes each */
#define BL_XID_PART_MAX				64
typedef struct BinlogXid
{
	int32		format_id;
	int			gtrid_len;
	int			bqual_len;
	uint8		data[2 * BL_XID_PART_MAX];
} BinlogXid;

/* column types of TABLE_MAP (MySQL's enum_field_types) */
#define MT_DECIMAL		0
#define MT_TINY			1
#define MT_SHORT		2
#define MT_LONG			3
#define MT_FLOAT		4
#define MT_DOUBLE		5
#define MT_NULL			6
#define MT_TIMESTAMP	7
#define MT_LONGLONG		8
#define MT_INT24		9
#define MT_DATE			10
#define MT_TIME			11
#define MT_DATETIME		12
#define MT_YEAR			13
#define MT_NEWDATE		14
#define MT_VARCHAR		15
#define MT_BIT			16
#define MT_TIMESTAMP2	17
#define MT_DATETIME2	18
#define MT_TIME2		19
#define MT_TYPED_ARRAY	20
#define MT_VECTOR		242
#define MT_INVALID		243
#define MT_BOOL			244
#define MT_JSON			245
#define MT_NEWDECIMAL	246
#define MT_ENUM			247
#define MT_SET			248
#define MT_TINY_BLOB	249
#define MT_MEDIUM_BLOB	250
#define MT_LONG_BLOB	251
#define MT_BLOB			252
#define MT_VAR_STRING	253
#define MT_STRING		254
#define MT_GEOMETRY		255

#define BL_COLLATION_BINARY	63

/* the stream's format, from its FORMAT_DESCRIPTION event */
typedef struct BinlogFormat
{
	bool		known;			/* a FORMAT_DESCRIPTION was read */
	bool		checksum;		/* events end with a CRC32 */
	int			checksum_alg;	/* the FORMAT_DESCRIPTION's: 0 off, 1 CRC32, -1 none given */
	int			header_len;		/* common header of the events after it (0: 19) */
	bool		mariadb;
	int			binlog_version;
	char		server_version[51];
	int			npost_header;
	uint8		post_header[256];	/* by event type */
} BinlogFormat;

/* an event's common header, and where its body is */
typedef struct BinlogEvent
{
	uint32		timestamp;
	uint8		type;
	uint32		server_id;
	uint32		size;			/* the whole event, checksum included */
	uint32		log_pos;		/* position after the event; 0 = artificial */
	uint16		flags;
	const uint8 *data;			/* post-header and body, checksum removed */
	uint32		len;
} BinlogEvent;

/* one column of a TABLE_MAP, with what the optional metadata tells */
typedef struct BinlogColumn
{
	uint8		type;			/* MT_*, for STRING columns the real type */
	uint16		meta;			/* type metadata */
	bool		nullable;
	bool		is_unsigned;	/* from SIGNEDNESS, or set by the caller */
	bool		has_signedness;
	int			collation;		/* 0 = unknown; 63 = binary */
	char	   *name;			/* from COLUMN_NAME, or NULL */
	int			nlabels;		/* ENUM / SET labels */
	char	  **labels;
	bool		want_binary;	/* decode to PostgreSQL's send format where the type allows */
} BinlogColumn;

typedef struct BinlogTableMap
{
	uint64		table_id;
	char	   *db;
	char	   *table;
	int			ncolumns;
	BinlogColumn *columns;
	bool		has_names;		/* COLUMN_NAME metadata was present */
	int			nkey;			/* SIMPLE_PRIMARY_KEY, -1 if absent */
	int		   *key;
} BinlogTableMap;

/* the framing of a rows event; rows themselves are read by bl_read_row */
typedef struct BinlogRows
{
	uint8		kind;			/* 'I', 'U' or 'D' */
	uint64		table_id;
	uint16		flags;
	int			ncolumns;
	const uint8 *present;		/* columns-present bitmap (before image) */
	const uint8 *present_after; /* update: after image */
	const uint8 *rows;			/* the row images */
	uint32		rows_len;
	char	   *uncompressed;	/* palloc'd body of a compressed event */
} BinlogRows;

/* a decoded value: NULL, or text in PostgreSQL input syntax */
typedef struct BinlogValue
{
	bool		isnull;
	bool		binary;			/* data is the send format of bl_binary_type's type */
	bool		needs_charset;	/* string bytes in the column's charset */
	bool		is_zero_date;	/* a zero or partial date, text is MySQL's */
	char	   *data;
	uint32		len;
} BinlogValue;

/* the fields of a DATE or DATETIME value */
typedef struct BinlogDateTime
{
	int			year;
	int			month;
	int			day;
	int			hour;
	int			minute;
	int			second;
} BinlogDateTime;

/* a MySQL GTID set (binlog_gtid.c): per server UUID, intervals [start, end) */
typedef struct BinlogGtidInterval
{
	uint64		start;
	uint64		end;			/* exclusive */
} BinlogGtidInterval;

typedef struct BinlogGtidSid
{
	uint8		uuid[16];
	int			n;
	int			max;
	BinlogGtidInterval *iv;		/* ascending, neither overlapping nor adjacent */
} BinlogGtidSid;

typedef struct BinlogGtidSet
{
	int			n;
	int			max;
	BinlogGtidSid *sids;		/* by UUID, ascending */
} BinlogGtidSet;

/* COM_BINLOG_DUMP_GTID (MySQL 5.6+) */
#define BL_COM_BINLOG_DUMP_GTID		0x1e

/* binlog_event.c */
extern bool bl_next_event(const uint8 *buf, size_t len, size_t off, uint32 *size, char **err);
extern bool bl_read_header(const uint8 *buf, size_t len, const BinlogFormat *fmt,
						   BinlogEvent *ev, char **err);
extern bool bl_read_format(const BinlogEvent *ev, BinlogFormat *fmt, char **err);
extern bool bl_checksum_aware(const char *server_version);
extern bool bl_file_checksum(const uint8 *buf, size_t len, bool *checksum, char **err);
extern bool bl_read_rotate(const BinlogEvent *ev, const BinlogFormat *fmt, uint64 *pos,
						   char **file, char **err);
extern bool bl_read_query(const BinlogEvent *ev, const BinlogFormat *fmt, char **db,
						  char **query, char **err);
extern bool bl_read_xid(const BinlogEvent *ev, const BinlogFormat *fmt, uint64 *xid, char **err);
extern bool bl_read_gtid(const BinlogEvent *ev, const BinlogFormat *fmt, char **gtid,
						 uint8 *flags, char **err);
extern bool bl_read_table_map(const BinlogEvent *ev, const BinlogFormat *fmt,
							  BinlogTableMap *map, char **err);
extern bool bl_event_table_id(const BinlogEvent *ev, const BinlogFormat *fmt, uint64 *table_id,
							  char **err);
extern bool bl_read_incident(const BinlogEvent *ev, const BinlogFormat *fmt, int *incident,
							 char **message, char **err);
extern bool bl_is_rows_event(uint8 type);
extern bool bl_read_rows(const BinlogEvent *ev, const BinlogFormat *fmt, BinlogRows *rows,
						 char **err);
extern bool bl_read_payload(const BinlogEvent *ev, const BinlogFormat *fmt, char **events,
							size_t *len, char **err);
extern bool bl_read_heartbeat(const BinlogEvent *ev, const BinlogFormat *fmt, char **file,
							  char **err);
extern bool bl_uncompress(const uint8 *src, size_t srclen, char **dst, size_t *dstlen,
						  char **err);
extern bool bl_read_lenenc(const uint8 **p, const uint8 *end, uint64 *val);

/* binlog_xa.c */
extern bool bl_read_xa_prepare(const BinlogEvent *ev, const BinlogFormat *fmt, BinlogXid *xid,
							   bool *one_phase, char **err);
extern bool bl_read_gtid_xa(const BinlogEvent *ev, BinlogXid *xid, bool *has_xid, char **err);
extern bool bl_parse_xa_statement(const char *text, const char *verb, BinlogXid *xid,
								  bool *one_phase);
extern char *bl_xid_text(const BinlogXid *xid);

/* binlog_gtid.c */
extern void bl_gtid_set_init(BinlogGtidSet *set);
extern bool bl_gtid_set_add(BinlogGtidSet *set, const uint8 *uuid, uint64 start, uint64 end);
extern bool bl_gtid_set_contains(const BinlogGtidSet *set, const BinlogGtidSet *sub);
extern uint64 bl_gtid_set_last(const BinlogGtidSet *set, const uint8 *uuid);
extern bool bl_gtid_uuid_from_text(const char *text, uint8 *uuid);
extern bool bl_gtid_set_from_text(const char *text, BinlogGtidSet *set, char **err);
extern void bl_gtid_set_to_text(const BinlogGtidSet *set, StringInfo out);
extern void bl_gtid_set_write(const BinlogGtidSet *set, StringInfo out);
extern size_t bl_gtid_set_size(const BinlogGtidSet *set);
extern bool bl_gtid_set_read(const uint8 *data, size_t len, BinlogGtidSet *set, char **err);
extern bool bl_read_previous_gtids(const BinlogEvent *ev, const BinlogFormat *fmt,
								   BinlogGtidSet *set, char **err);
extern bool bl_previous_gtids_tagged(const BinlogEvent *ev, const BinlogFormat *fmt);
extern void bl_write_dump_gtid(StringInfo out, uint16 flags, uint32 server_id, const char *file,
							   uint64 pos, const BinlogGtidSet *set);
extern bool bl_read_dump_gtid(const uint8 *data, size_t len, uint16 *flags, uint32 *server_id,
							  char **file, uint64 *pos, BinlogGtidSet *set, char **err);

/* binlog_formats.c */
extern uint64 bl_be_uint(const uint8 *p, int n);
extern uint64 bl_le_uint(const uint8 *p, int n);
extern bool bl_decimal_text(const uint8 *p, int prec, int scale, int size, char **text, char **err);
extern uint32 bl_frac_usec(const uint8 *p, int fsp);
extern char *bl_frac_text(uint32 usec, int fsp);
extern void bl_civil_from_days(int64 z, int *y, int *m, int *d);
extern int64 bl_days_from_civil(int y, int m, int d);
extern bool bl_valid_date(int y, int m, int d);
extern void bl_unpack_date(const uint8 *p, BinlogDateTime *dt);

/* binlog_rows.c */
extern bool bl_read_row(const BinlogTableMap *map, const uint8 *present, const uint8 **p,
						const uint8 *end, BinlogValue *values, char **err);
extern const char *bl_type_name(uint8 type);
extern Oid	bl_binary_type(const BinlogColumn *col);
extern void bl_unpack_datetime(int64 intpart, BinlogDateTime *dt);

/* binlog_render.c */
extern bool bl_render(const uint8 *buf, size_t len, bool checksum, StringInfo out, char **err);
extern bool bl_render_file(const uint8 *buf, size_t len, StringInfo out, StringInfo rows_out,
						   char **err);

/* binlog_json.c */
extern bool bl_json_to_text(const uint8 *data, size_t len, StringInfo out, char **err);

#endif							/* TRIBUTARY_BINLOG_H */
