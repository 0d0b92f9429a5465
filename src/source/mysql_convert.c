/*-------------------------------------------------------------------------
 *
 * mysql_convert.c
 *		The value policies both MySQL paths apply before a value reaches
 *		the target: strings converted once, by us, from their column's
 *		character set to the target database's encoding, and zero dates
 *		by the job's zero_date option.
 *
 * Strings arrive as the column stores them: the binlog carries the
 * column's bytes, and snapshots read with character_set_results = NULL
 * (mysql_snapshot.c), so the server converts nothing.  UTF-8 and ASCII
 * strings pass through (validated) when the database is UTF-8; other
 * character sets, and UTF-8 into a database of another encoding, go
 * through PostgreSQL's conversion procedures, which reject what the
 * target encoding cannot hold.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "source/mysql_value.h"

/*
 * The conversion of a source encoding to the database's: one procedure,
 * or two through UTF-8 where PostgreSQL has no direct one (WIN1252, which
 * MySQL calls latin1, to LATIN1).
 */
typedef struct Conversion
{
	int			via;			/* PG_UTF8 when converted in two steps, else -1 */
	FmgrInfo	first;
	FmgrInfo	second;
} Conversion;

static Conversion *conversions[_PG_LAST_ENCODING_];

/*
 * myv_charset_encoding: the PostgreSQL encoding of a MySQL character set
 * name; -1 for bytes without a character set (binary, and ASCII, which
 * every database encoding holds), -2 for one pg_tributary cannot convert.
 */
int
myv_charset_encoding(const char *charset)
{
	static const struct
	{
		const char *mysql;
		const char *pg;
	}			map[] = {
		{"latin1", "WIN1252"}, {"latin2", "LATIN2"}, {"latin5", "LATIN5"}, {"latin7", "LATIN7"},
		{"cp1250", "WIN1250"}, {"cp1251", "WIN1251"}, {"cp1256", "WIN1256"}, {"cp1257", "WIN1257"},
		{"cp866", "WIN866"}, {"greek", "ISO_8859_7"}, {"hebrew", "ISO_8859_8"}, {"koi8r", "KOI8R"},
		{"koi8u", "KOI8U"}, {"gbk", "GBK"}, {"gb2312", "EUC_CN"}, {"gb18030", "GB18030"},
		{"big5", "BIG5"}, {"sjis", "SJIS"}, {"cp932", "SJIS"}, {"ujis", "EUC_JP"},
		{"eucjpms", "EUC_JP"}, {"euckr", "EUC_KR"}, {"tis620", "WIN874"},
	};

	if (charset == NULL || strcmp(charset, "binary") == 0 || strcmp(charset, "ascii") == 0)
		return -1;
	if (strncmp(charset, "utf8", 4) == 0)
		return PG_UTF8;
	for (int i = 0; i < lengthof(map); i++)
		if (strcmp(charset, map[i].mysql) == 0)
			return pg_char_to_encoding(map[i].pg);
	return -2;
}

/*
 * needs_conversion: whether strings of an encoding must be converted to
 * the database's (a SQL_ASCII database takes bytes as they are).
 */
static bool
needs_conversion(int encoding)
{
	return encoding >= 0 && encoding != GetDatabaseEncoding() &&
		GetDatabaseEncoding() != PG_SQL_ASCII;
}

/*
 * myv_prepare_conversion: look up (once per process, in a transaction of
 * its own if none is open) the conversion from an encoding to the
 * database's, so that values convert outside transactions; an error when
 * PostgreSQL has none.
 */
void
myv_prepare_conversion(int encoding)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		own = !IsTransactionState();
	int			db = GetDatabaseEncoding();
	Oid			first;
	Oid			second = InvalidOid;
	Conversion *c;

	if (!needs_conversion(encoding) || conversions[encoding] != NULL)
		return;
	if (own)
		StartTransactionCommand();
	first = FindDefaultConversionProc(encoding, db);
	if (!OidIsValid(first) && encoding != PG_UTF8 && db != PG_UTF8)
	{
		first = FindDefaultConversionProc(encoding, PG_UTF8);
		second = FindDefaultConversionProc(PG_UTF8, db);
		if (!OidIsValid(second))
			first = InvalidOid;
	}
	if (!OidIsValid(first))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("no conversion from %s to %s", pg_encoding_to_char(encoding),
						GetDatabaseEncodingName()),
				 errhint("Create the target database with encoding UTF8.")));
	/* once per encoding and process, like the backend's own conversion cache */
	c = MemoryContextAllocZero(TopMemoryContext, sizeof(Conversion));
	c->via = OidIsValid(second) ? PG_UTF8 : -1;
	fmgr_info_cxt(first, &c->first, TopMemoryContext);
	if (OidIsValid(second))
		fmgr_info_cxt(second, &c->second, TopMemoryContext);
	conversions[encoding] = c;
	if (own)
		CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
}

/*
 * scan_bytes: whether a string holds a NUL (*nul) and whether it holds
 * anything but ASCII (the result), eight bytes at a time: most values are
 * ASCII, which every database encoding holds as it is.
 */
static bool
scan_bytes(const char *data, size_t len, bool *nul)
{
	const unsigned char *p = (const unsigned char *) data;
	const unsigned char *end = p + len;
	uint64		high = 0;
	uint64		zero = 0;

	for (; end - p >= 8; p += 8)
	{
		uint64		x;

		memcpy(&x, p, 8);
		high |= x;
		/* a zero byte: its high bit is set in (x - 0x01...) & ~x */
		zero |= (x - UINT64CONST(0x0101010101010101)) & ~x;
	}
	*nul = (zero & UINT64CONST(0x8080808080808080)) != 0;
	for (; p < end; p++)
	{
		high |= *p;
		if (*p == 0)
			*nul = true;
	}
	return (high & UINT64CONST(0x8080808080808080)) != 0;
}

/*
 * myv_to_database: a string of a column (in an encoding, see
 * myv_charset_encoding) in the database's encoding: the input itself when
 * it needs no conversion (validated), else a palloc'd conversion.  NUL
 * characters, which PostgreSQL text cannot store, are an error naming the
 * column.  myv_prepare_conversion(encoding) must have run.
 */
const char *
myv_to_database(const char *data, size_t len, int encoding, size_t *out_len,
				const char *column, const char *table)
{
	Conversion *c;
	char	   *out;
	int			db = GetDatabaseEncoding();
	bool		nul;
	bool		non_ascii = scan_bytes(data, len, &nul);

	if (nul)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("column \"%s\" of source table [%s] holds a NUL character, which PostgreSQL text cannot store",
						column, table)));
	if (!non_ascii)
	{
		*out_len = len;
		return data;
	}
	if (!needs_conversion(encoding))
	{
		if (!pg_verify_mbstr(GetDatabaseEncoding(), data, (int) len, true))
			ereport(ERROR,
					(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
					 errmsg("invalid byte sequence in column \"%s\" of source table [%s]", column, table),
					 errdetail("The value is not valid %s.", GetDatabaseEncodingName())));
		*out_len = len;
		return data;
	}
	if (len >= (MaxAllocSize / (Size) MAX_CONVERSION_GROWTH))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value of column \"%s\" of source table [%s] is too long to convert", column, table)));
	c = conversions[encoding];
	if (c == NULL)
		elog(ERROR, "conversion from %s is not prepared", pg_encoding_to_char(encoding));
	out = palloc(len * MAX_CONVERSION_GROWTH + 1);
	FunctionCall6(&c->first, Int32GetDatum(encoding), Int32GetDatum(c->via >= 0 ? c->via : db),
				  CStringGetDatum(data), CStringGetDatum(out), Int32GetDatum((int) len), BoolGetDatum(false));
	if (c->via >= 0)
	{
		size_t		mid = strlen(out);
		char	   *out2;

		if (mid >= (MaxAllocSize / (Size) MAX_CONVERSION_GROWTH))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("value of column \"%s\" of source table [%s] is too long to convert", column, table)));
		out2 = palloc(mid * MAX_CONVERSION_GROWTH + 1);
		FunctionCall6(&c->second, Int32GetDatum(c->via), Int32GetDatum(db),
					  CStringGetDatum(out), CStringGetDatum(out2), Int32GetDatum((int) mid), BoolGetDatum(false));
		pfree(out);
		out = out2;
	}
	*out_len = strlen(out);
	return out;
}

/*
 * myv_zero_date: what a zero date ("0000-00-00", or a zero month or day)
 * becomes under the job option zero_date: NULL (SQL NULL, the default),
 * "-infinity", or, with error, an error naming the column and where the
 * value was read.
 */
const char *
myv_zero_date(const char *zero_date, const char *text, size_t len,
			  const char *column, const char *table, const char *where)
{
	const char *zd = zero_date ? zero_date : "null";

	if (strcmp(zd, "-infinity") == 0)
		return "-infinity";
	if (strcmp(zd, "error") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("zero date \"%s\" in source table [%s]", pnstrdup(text, len), table),
				 errdetail("Column \"%s\", %s.", column, where),
				 errhint("Set the job option zero_date to null or -infinity to accept zero dates.")));
	return NULL;
}
