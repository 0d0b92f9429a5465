/*-------------------------------------------------------------------------
 *
 * binlog_table_map.c
 *		TABLE_MAP events: a table's id, database, name and column types
 *		with their metadata, and the optional metadata of
 *		binlog_row_metadata = MINIMAL / FULL (signedness, charsets, column
 *		names, ENUM/SET labels, primary key), validated as they are read.
 *		Built for the backend and the fuzzers (FRONTEND).
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "source/binlog.h"
#include "source/binlog_bytes.h"

/*
 * read_lenenc_string: a length-encoded string of optional metadata.
 */
static bool
read_lenenc_string(const uint8 **p, const uint8 *end, char **out)
{
	uint64		len;

	if (!bl_read_lenenc(p, end, &len) || (uint64) (end - *p) < len)
		return false;
	*out = pnstrdup((const char *) *p, len);
	*p += len;
	return true;
}

/*
 * is_numeric_type: whether a column gets a bit in SIGNEDNESS metadata.
 * MySQL gives one to the integer, floating-point and DECIMAL types;
 * MariaDB to every column whose field has a sign, and its YEAR is a
 * TINYINT underneath, so there YEAR gets a bit too (skipping it shifted
 * the sign of every integer column after a YEAR).
 */
static bool
is_numeric_type(uint8 t, bool mariadb)
{
	return t == MT_TINY || t == MT_SHORT || t == MT_INT24 || t == MT_LONG || t == MT_LONGLONG ||
		t == MT_FLOAT || t == MT_DOUBLE || t == MT_NEWDECIMAL || t == MT_DECIMAL ||
		(mariadb && t == MT_YEAR);
}

/*
 * is_character_type: whether a column gets a collation in the charset
 * metadata: strings, BLOB kinds and GEOMETRY (a BLOB underneath, with the
 * binary collation; leaving it out shifts the collations of the columns
 * after it).  ENUM and SET have metadata of their own.
 */
static bool
is_character_type(uint8 t)
{
	return t == MT_STRING || t == MT_VAR_STRING || t == MT_VARCHAR || t == MT_BLOB ||
		t == MT_TINY_BLOB || t == MT_MEDIUM_BLOB || t == MT_LONG_BLOB || t == MT_GEOMETRY;
}

/*
 * read_column_meta: the type metadata of one column, normalising STRING
 * columns to their real type (CHAR, ENUM or SET) and length.
 */
static bool
read_column_meta(BinlogColumn *col, const uint8 **p, const uint8 *end)
{
	const uint8 *s = *p;

	switch (col->type)
	{
		case MT_TIMESTAMP2:
		case MT_DATETIME2:
		case MT_TIME2:
			/* fractional digits: 0 to 6 */
			if (end - s < 1 || s[0] > 6)
				return false;
			col->meta = s[0];
			*p = s + 1;
			return true;
		case MT_FLOAT:
		case MT_DOUBLE:
		case MT_BLOB:
		case MT_TINY_BLOB:
		case MT_MEDIUM_BLOB:
		case MT_LONG_BLOB:
		case MT_GEOMETRY:
		case MT_JSON:
		case MT_VECTOR:
			if (end - s < 1)
				return false;
			col->meta = s[0];
			*p = s + 1;
			return true;
		case MT_BIT:
			/* bits of the last byte (0 to 7), whole bytes (0 to 8): BIT(1) to BIT(64) */
			if (end - s < 2 || s[0] > 7 || s[1] > 8 || s[1] * 8 + s[0] < 1 || s[1] * 8 + s[0] > 64)
				return false;
			col->meta = rd16(s);
			*p = s + 2;
			return true;
		case MT_VARCHAR:
		case MT_VAR_STRING:
		case MT_NEWDECIMAL:
			if (end - s < 2)
				return false;
			col->meta = rd16(s);
			*p = s + 2;
			return true;
		case MT_STRING:
		case MT_ENUM:
		case MT_SET:
			{
				uint8		real;
				int			len;

				if (end - s < 2)
					return false;
				real = s[0];
				len = s[1];
				*p = s + 2;
				if (real != 0 && (real & 0x30) != 0x30)
				{
					/* CHAR longer than 255 bytes keeps two length bits here */
					len |= ((real & 0x30) ^ 0x30) << 4;
					real |= 0x30;
				}
				if (real == MT_ENUM || real == MT_SET)
					col->type = real;
				col->meta = len;
				return true;
			}
		default:
			col->meta = 0;
			return true;
	}
}

/*
 * read_labels: ENUM_STR_VALUE / SET_STR_VALUE: the labels of each column
 * of the kind, in column order.
 */
static bool
read_labels(BinlogTableMap *map, uint8 kind, const uint8 **p, const uint8 *end)
{
	for (int i = 0; i < map->ncolumns; i++)
	{
		BinlogColumn *col = &map->columns[i];
		uint64		n;

		if (col->type != kind)
			continue;
		if (!bl_read_lenenc(p, end, &n) || n > (uint64) (end - *p))
			return false;
		col->nlabels = (int) n;
		col->labels = palloc0(sizeof(char *) * Max(n, 1));
		for (uint64 k = 0; k < n; k++)
			if (!read_lenenc_string(p, end, &col->labels[k]))
				return false;
	}
	return true;
}

/*
 * read_optional_metadata: the TLVs of binlog_row_metadata after the null
 * bitmap (mariadb: written by MariaDB, whose rules differ a little).
 * Unknown types are skipped (newer servers add some).
 */
static bool
read_optional_metadata(BinlogTableMap *map, bool mariadb, const uint8 *p, const uint8 *end, char **err)
{
	while (p < end)
	{
		uint8		type = *p++;
		uint64		len;
		const uint8 *v;
		const uint8 *vend;

		if (!bl_read_lenenc(&p, end, &len) || len > (uint64) (end - p))
			return fail(err, "TABLE_MAP optional metadata is truncated");
		v = p;
		vend = p + len;
		p = vend;
		switch (type)
		{
			case 1:				/* SIGNEDNESS: a bit per numeric column, MSB first */
				{
					int			bit = 0;

					for (int i = 0; i < map->ncolumns; i++)
					{
						BinlogColumn *col = &map->columns[i];

						if (!is_numeric_type(col->type, mariadb))
							continue;
						if (v + bit / 8 >= vend)
							return fail(err, "TABLE_MAP signedness metadata is truncated");
						col->is_unsigned = (v[bit / 8] & (0x80 >> (bit % 8))) != 0;
						col->has_signedness = true;
						bit++;
					}
					break;
				}
			case 2:				/* DEFAULT_CHARSET: default, then (index, collation)* */
			case 10:			/* ENUM_AND_SET_DEFAULT_CHARSET */
				{
					uint64		def;
					int			nth = 0;
					bool		enumset = (type == 10);

					if (!bl_read_lenenc(&v, vend, &def))
						return fail(err, "TABLE_MAP charset metadata is truncated");
					for (int i = 0; i < map->ncolumns; i++)
					{
						BinlogColumn *col = &map->columns[i];

						if (enumset ? (col->type == MT_ENUM || col->type == MT_SET) : is_character_type(col->type))
							col->collation = (int) def;
					}
					while (v < vend)
					{
						uint64		idx;
						uint64		coll;

						if (!bl_read_lenenc(&v, vend, &idx) || !bl_read_lenenc(&v, vend, &coll))
							return fail(err, "TABLE_MAP charset metadata is truncated");
						nth = 0;
						for (int i = 0; i < map->ncolumns; i++)
						{
							BinlogColumn *col = &map->columns[i];

							if (!(enumset ? (col->type == MT_ENUM || col->type == MT_SET) : is_character_type(col->type)))
								continue;
							if ((uint64) nth++ == idx)
								col->collation = (int) coll;
						}
					}
					break;
				}
			case 3:				/* COLUMN_CHARSET: a collation per character column */
			case 11:			/* ENUM_AND_SET_COLUMN_CHARSET */
				for (int i = 0; i < map->ncolumns; i++)
				{
					BinlogColumn *col = &map->columns[i];
					uint64		coll;

					if (!(type == 11 ? (col->type == MT_ENUM || col->type == MT_SET) : is_character_type(col->type)))
						continue;
					if (!bl_read_lenenc(&v, vend, &coll))
						return fail(err, "TABLE_MAP charset metadata is truncated");
					col->collation = (int) coll;
				}
				break;
			case 4:				/* COLUMN_NAME */
				for (int i = 0; i < map->ncolumns; i++)
					if (!read_lenenc_string(&v, vend, &map->columns[i].name))
						return fail(err, "TABLE_MAP column name metadata is truncated");
				map->has_names = true;
				break;
			case 5:				/* SET_STR_VALUE */
				if (!read_labels(map, MT_SET, &v, vend))
					return fail(err, "TABLE_MAP SET metadata is truncated");
				break;
			case 6:				/* ENUM_STR_VALUE */
				if (!read_labels(map, MT_ENUM, &v, vend))
					return fail(err, "TABLE_MAP ENUM metadata is truncated");
				break;
			case 8:				/* SIMPLE_PRIMARY_KEY */
				{
					int			n = 0;
					int			cap = 4;

					map->key = palloc(sizeof(int) * cap);
					while (v < vend)
					{
						uint64		idx;

						if (!bl_read_lenenc(&v, vend, &idx) || idx >= (uint64) map->ncolumns)
							return fail(err, "TABLE_MAP primary key metadata is invalid");
						if (n == cap)
						{
							cap *= 2;
							map->key = repalloc(map->key, sizeof(int) * cap);
						}
						map->key[n++] = (int) idx;
					}
					map->nkey = n;
					break;
				}
			default:
				break;
		}
	}
	return true;
}

/*
 * bl_read_table_map: TABLE_MAP: which table a table id means for the rows
 * events that follow, with the column types and their metadata.
 */
bool
bl_read_table_map(const BinlogEvent *ev, const BinlogFormat *fmt, BinlogTableMap *map, char **err)
{
	int			ph = bl_post_header(fmt, ev->type);
	const uint8 *p = ev->data;
	const uint8 *end = ev->data + ev->len;
	uint64		n;
	uint64		metalen;
	const uint8 *meta;
	const uint8 *metaend;
	int			len;

	memset(map, 0, sizeof(*map));
	map->nkey = -1;
	if ((ph != 6 && ph != 8) || ev->len < (uint32) ph + 4)
		return fail(err, "TABLE_MAP event too short");
	map->table_id = (ph == 6) ? rd32(p) : rd48(p);
	p += ph;
	len = *p++;
	if (end - p < len + 2)
		return fail(err, "TABLE_MAP event too short for its database name");
	map->db = pnstrdup((const char *) p, len);
	p += len + 1;
	len = *p++;
	if (end - p < len + 1)
		return fail(err, "TABLE_MAP event too short for its table name");
	map->table = pnstrdup((const char *) p, len);
	p += len + 1;
	if (!bl_read_lenenc(&p, end, &n) || n == 0 || n > 4096 || (uint64) (end - p) < n)
		return fail(err, "TABLE_MAP event has a bad column count");
	map->ncolumns = (int) n;
	map->columns = palloc0(sizeof(BinlogColumn) * n);
	for (int i = 0; i < map->ncolumns; i++)
		map->columns[i].type = *p++;
	if (p == end)
		return fail(err, "TABLE_MAP event without column metadata (written by MySQL 5.1 before 5.1.18) is not supported");
	if (!bl_read_lenenc(&p, end, &metalen) || (uint64) (end - p) < metalen)
		return fail(err, "TABLE_MAP event has a bad metadata length");
	meta = p;
	metaend = p + metalen;
	for (int i = 0; i < map->ncolumns; i++)
		if (!read_column_meta(&map->columns[i], &meta, metaend))
			return fail(err, "TABLE_MAP column metadata is truncated or out of range");
	p = metaend;
	if ((uint64) (end - p) < (n + 7) / 8)
		return fail(err, "TABLE_MAP event lacks its null bitmap");
	for (int i = 0; i < map->ncolumns; i++)
		map->columns[i].nullable = (p[i / 8] & (1 << (i % 8))) != 0;
	p += (n + 7) / 8;
	return read_optional_metadata(map, fmt->mariadb, p, end, err);
}
