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
 * when it is bad.  The error never quotes the string or libpq's message
 * about it, which may hold part of a password (libpq names the word it
 * could not parse).  For MySQL sources, keys that have no MySQL meaning
 * are refused too.
 */
PQconninfoOption *
tributary_conninfo_parse(const char *conninfo, const char *kind)
{
	PQconninfoOption *opts;
	char	   *err = NULL;

	opts = PQconninfoParse(conninfo, &err);
	if (opts == NULL)
	{
		if (err)
			PQfreemem(err);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid connection string"),
				 errdetail("It is not a list of key=value pairs with known keys (a value with spaces or quotes needs single quotes). Its text is not shown: it may hold a password."),
				 errhint("Write the connection string as key=value pairs, for example 'host=db1 port=5432 user=sync password=... dbname=app'.")));
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
 * tributary_conninfo_is_secret: whether a connection key holds a secret,
 * masked wherever a connection string is shown.
 */
bool
tributary_conninfo_is_secret(const char *key)
{
	return strcmp(key, "password") == 0 || strcmp(key, "sslpassword") == 0;
}

/*
 * tributary_conninfo_masked: the connection string with every secret
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
		if (tributary_conninfo_is_secret(o->keyword))
			appendStringInfoString(&buf, "********");
		else
			append_conninfo_value(&buf, o->val);
	}
	PQconninfoFree(opts);
	return buf.data;
}

/* keys that make the server use files of its own account to authenticate */
static const char *const superuser_keys[] = {
	"passfile", "service", "sslcert", "sslkey", NULL
};

PG_FUNCTION_INFO_V1(tributary_conninfo_validate);

/*
 * tributary_conninfo_validate: SQL-callable check of a source's connection
 * string for its kind (conninfo, kind, defined by a superuser).  A source
 * that a non-superuser defines must carry its own password (the server
 * must then ask for it: tributary_password_refused), and may not name the
 * server's password file, service file or client certificate, which are
 * the credentials of the server's account, not the definer's.
 */
Datum
tributary_conninfo_validate(PG_FUNCTION_ARGS)
{
	char	   *conninfo = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		superuser = PG_GETARG_BOOL(2);
	PQconninfoOption *opts = tributary_conninfo_parse(conninfo, kind);
	const char *password = tributary_conninfo_get(opts, "password");
	bool		has_password = (password != NULL && password[0] != '\0');

	if (!superuser)
	{
		for (int i = 0; superuser_keys[i]; i++)
		{
			const char *val = tributary_conninfo_get(opts, superuser_keys[i]);

			if (val != NULL && val[0] != '\0')
			{
				PQconninfoFree(opts);
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("only superusers may use connection option \"%s\"", superuser_keys[i]),
						 errdetail("It makes the server authenticate with files of its own operating-system account.")));
			}
		}
	}
	PQconninfoFree(opts);
	if (!superuser && !has_password)
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required"),
				 errdetail("Non-superusers must provide a password in the connection string."),
				 errhint("Add password=... for a user the source authenticates with a password.")));
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
