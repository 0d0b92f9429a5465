/*-------------------------------------------------------------------------
 *
 * conninfo.c
 *		Source connection strings: validation, password masking, and the
 *		key/value split the connectors use.
 *
 * Both source kinds take a libpq-style "key=value ..." string, parsed with
 * libpq's own parser.  MySQL sources accept the subset of keys that maps to
 * MariaDB Connector/C options.  Passwords never leave this file unmasked
 * except towards the connectors.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq-fe.h"
#include "utils/builtins.h"

#include "conninfo.h"

static const char *const mysql_keys[] = {
	"host", "port", "user", "password", "dbname", "connect_timeout",
	"sslmode", "sslcert", "sslkey", "sslrootcert", NULL
};

/*
 * tributary_conninfo_parse: parse a connection string, raising a user error
 * (without echoing the string, which may hold a password) when it is bad.
 * For MySQL sources, keys that have no MySQL meaning are refused too.
 */
PQconninfoOption *
tributary_conninfo_parse(const char *conninfo, const char *kind)
{
	PQconninfoOption *opts;
	char	   *err = NULL;

	opts = PQconninfoParse(conninfo, &err);
	if (opts == NULL)
	{
		char	   *msg = err ? pchomp(err) : pstrdup("out of memory");

		if (err)
			PQfreemem(err);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid connection string: %s", msg),
				 errhint("Write the connection string as key=value pairs, for example 'host=db1 port=5432 user=sync dbname=app'.")));
	}

	if (strcmp(kind, "mysql") == 0)
	{
		for (PQconninfoOption *o = opts; o->keyword; o++)
		{
			bool		known = false;

			if (o->val == NULL)
				continue;
			for (int i = 0; mysql_keys[i]; i++)
				if (strcmp(o->keyword, mysql_keys[i]) == 0)
					known = true;
			if (!known)
			{
				char	   *key = pstrdup(o->keyword);

				PQconninfoFree(opts);
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("connection option \"%s\" is not supported for mysql sources", key),
						 errdetail("Valid options are: host, port, user, password, dbname, connect_timeout, sslmode, sslcert, sslkey, sslrootcert.")));
			}
		}
	}
	return opts;
}

/*
 * tributary_conninfo_get: the value of one key of a parsed string, or NULL.
 */
const char *
tributary_conninfo_get(PQconninfoOption *opts, const char *key)
{
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, key) == 0)
			return o->val;
	return NULL;
}

/*
 * append_conninfo_value: append a value quoted the way libpq parses it.
 */
static void
append_conninfo_value(StringInfo buf, const char *val)
{
	bool		plain = (*val != '\0');

	for (const char *p = val; *p; p++)
		if (*p == ' ' || *p == '\'' || *p == '\\' || *p == '\t' || *p == '\n')
			plain = false;
	if (plain)
	{
		appendStringInfoString(buf, val);
		return;
	}
	appendStringInfoChar(buf, '\'');
	for (const char *p = val; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
}

/*
 * tributary_conninfo_masked: the connection string with the password
 * replaced by asterisks, for views and messages.
 */
char *
tributary_conninfo_masked(const char *conninfo)
{
	PQconninfoOption *opts;
	StringInfoData buf;

	opts = PQconninfoParse(conninfo, NULL);
	if (opts == NULL)
		return pstrdup("(invalid connection string)");

	initStringInfo(&buf);
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL)
			continue;
		if (buf.len > 0)
			appendStringInfoChar(&buf, ' ');
		appendStringInfo(&buf, "%s=", o->keyword);
		if (strcmp(o->keyword, "password") == 0)
			appendStringInfoString(&buf, "********");
		else
			append_conninfo_value(&buf, o->val);
	}
	PQconninfoFree(opts);
	return buf.data;
}

PG_FUNCTION_INFO_V1(tributary_conninfo_validate);

/*
 * tributary_conninfo_validate: SQL-callable check of a source's connection
 * string for its kind.
 */
Datum
tributary_conninfo_validate(PG_FUNCTION_ARGS)
{
	char	   *conninfo = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(1));

	PQconninfoFree(tributary_conninfo_parse(conninfo, kind));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(tributary_conninfo_mask);

/*
 * tributary_conninfo_mask: SQL-callable masking, used by the views.
 */
Datum
tributary_conninfo_mask(PG_FUNCTION_ARGS)
{
	char	   *conninfo = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_TEXT_P(cstring_to_text(tributary_conninfo_masked(conninfo)));
}
