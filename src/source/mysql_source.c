/*-------------------------------------------------------------------------
 *
 * mysql_source.c
 *		The MySQL / MariaDB source connector, on MariaDB Connector/C:
 *		connection, table descriptions and the prerequisite checks of
 *		check_source.
 *
 * Checks, in order: connection, log_bin, binlog_format = ROW,
 * binlog_row_image = FULL, binlog_row_metadata (FULL recommended),
 * binlog_row_value_options (not PARTIAL_JSON), server_id, privileges
 * (REPLICATION SLAVE, REPLICATION CLIENT or BINLOG MONITOR, SELECT), the
 * binary log position (SHOW MASTER STATUS, or SHOW BINARY LOG STATUS on
 * MySQL 8.4), and per table: existence and primary key.
 *
 * Every call that reaches the server has a read timeout, so a worker
 * blocked on a dead server still sees its stop request.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "source/mysql_include.h"


#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "conninfo.h"
#include "source/connector.h"
#include "source/mysql_source.h"
#include "source/mysql_types.h"

/*
 * mysrc_conn: the open connection of a source, or an error if there is none.
 */
MYSQL *
mysrc_conn(TributarySource *src)
{
	if (src->conn == NULL)
		elog(ERROR, "source \"%s\" is not connected", src->cfg.name);
	return (MYSQL *) src->conn;
}

/*
 * mysrc_raise_saved: raise a MySQL error whose number and text were
 * copied before the result or handle it came from was freed.
 */
void
pg_attribute_noreturn()
mysrc_raise_saved(TributarySource *src, const char *what, unsigned int err, const char *msg)
{
	ereport(ERROR,
			(errcode(err >= 2000 && err < 3000 ? ERRCODE_CONNECTION_FAILURE : ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("%s from source \"%s\": %s", what, src->cfg.name, msg),
			 errdetail("MySQL error %u.", err)));
}

/*
 * mysrc_raise: raise the last error of the connection with its MySQL error
 * number and text.
 */
void
pg_attribute_noreturn()
mysrc_raise(TributarySource *src, const char *what)
{
	MYSQL	   *conn = mysrc_conn(src);

	mysrc_raise_saved(src, what, mysql_errno(conn), pstrdup(mysql_error(conn)));
}

/*
 * mysrc_open: a new connection with the conninfo's host, port, user,
 * password, dbname and TLS settings, or NULL with the server's error text
 * in *errp.  The binlog dump opens a second one for itself (binlog: it
 * keeps a read timeout, as heartbeats flow on it).  Every call that waits
 * goes through mysql_io.c, so it can be interrupted.
 */
MYSQL *
mysrc_open(TributarySource *src, const char *appname, bool binlog, char **errp)
{
	PQconninfoOption *opts = tributary_conninfo_parse(src->cfg.conninfo, "mysql");
	const char *host = tributary_conninfo_get(opts, "host");
	const char *port = tributary_conninfo_get(opts, "port");
	const char *user = tributary_conninfo_get(opts, "user");
	const char *password = tributary_conninfo_get(opts, "password");
	const char *dbname = tributary_conninfo_get(opts, "dbname");
	const char *sslmode = tributary_conninfo_get(opts, "sslmode");
	const char *timeout_s = tributary_conninfo_get(opts, "connect_timeout");
	unsigned int connect_timeout = timeout_s ? atoi(timeout_s) : src->cfg.connect_timeout;
	unsigned int rw_timeout = Max(src->cfg.heartbeat_ms / 1000 * 3, 10);
	MYSQL	   *conn = mysql_init(NULL);
	char	   *err = NULL;

	if (conn == NULL)
	{
		PQconninfoFree(opts);
		*errp = pstrdup("out of memory");
		return NULL;
	}
	if (src->cfg.password_required)
	{
		/*
		 * MySQL cannot say whether the server asked for the password: a
		 * non-empty one is required and the connection goes over TCP, so
		 * that unix_socket authentication (the server's OS account) and
		 * accounts without a password cannot let it in.
		 */
		unsigned int tcp = MYSQL_PROTOCOL_TCP;

		if (password == NULL || password[0] == '\0')
		{
			mysql_close(conn);
			PQconninfoFree(opts);
			tributary_password_refused(src);
		}
		mysql_options(conn, MYSQL_OPT_PROTOCOL, &tcp);
	}
	mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
	mysql_options(conn, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
	myio_prepare(conn, !binlog);
	mysql_options(conn, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
	mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options4(conn, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", appname);
	if (sslmode && strcmp(sslmode, "disable") != 0)
	{
		my_bool		enforce = (strcmp(sslmode, "require") == 0 ||
							   strncmp(sslmode, "verify", 6) == 0);
		my_bool		verify = (strncmp(sslmode, "verify", 6) == 0);

		mysql_ssl_set(conn, tributary_conninfo_get(opts, "sslkey"),
					  tributary_conninfo_get(opts, "sslcert"),
					  tributary_conninfo_get(opts, "sslrootcert"), NULL, NULL);
		mysql_options(conn, MYSQL_OPT_SSL_ENFORCE, &enforce);
		mysql_options(conn, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
	}

	if (!myio_connect(conn, host ? host : "localhost", user, password, dbname,
					  port ? atoi(port) : 3306))
	{
		err = pstrdup(mysql_error(conn));
		mysql_close(conn);
		conn = NULL;
	}
	PQconninfoFree(opts);
	*errp = err;
	return conn;
}

/*
 * mysrc_try_connect: open the source's query connection.  Returns NULL or
 * the server's error text.
 */
static char *
mysrc_try_connect(TributarySource *src, const char *appname)
{
	char	   *err = NULL;

	static const char read_only[] = "SET SESSION TRANSACTION READ ONLY";
	static const char settings[] = "SET SESSION sql_mode = '', time_zone = '+00:00'";

	src->conn = mysrc_open(src, appname, false, &err);

	/*
	 * Every statement of this connection reads, and what it reads does not
	 * depend on the account's or the server's defaults (sql_mode's
	 * PAD_CHAR_TO_FULL_LENGTH pads CHAR values; TIMESTAMP text follows
	 * time_zone).
	 */
	if (src->conn && (myio_query((MYSQL *) src->conn, read_only, strlen(read_only)) != 0 ||
					  myio_query((MYSQL *) src->conn, settings, strlen(settings)) != 0))
	{
		err = pstrdup(mysql_error((MYSQL *) src->conn));
		mysql_close((MYSQL *) src->conn);
		src->conn = NULL;
	}
	return err;
}

/*
 * mysrc_disconnect: close the connection, if open.
 */
static void
mysrc_disconnect(TributarySource *src)
{
	if (src->conn)
		mysql_close((MYSQL *) src->conn);
	src->conn = NULL;
}

/*
 * mysrc_query: run a query and return its whole (small) result, or raise.
 */
MYSQL_RES *
mysrc_query(TributarySource *src, const char *sql)
{
	MYSQL	   *conn = mysrc_conn(src);
	MYSQL_RES  *res;

	CHECK_FOR_INTERRUPTS();
	if (myio_query(conn, sql, strlen(sql)) != 0)
		mysrc_raise(src, "query failed");
	res = myio_store_result(conn);
	if (res == NULL && mysql_field_count(conn) != 0)
		mysrc_raise(src, "query failed");
	return res;
}

/*
 * mysrc_try_query: like mysrc_query, but returns NULL instead of raising (for
 * statements that only some server versions know).
 */
static MYSQL_RES *
mysrc_try_query(TributarySource *src, const char *sql)
{
	MYSQL	   *conn = mysrc_conn(src);

	if (myio_query(conn, sql, strlen(sql)) != 0)
		return NULL;
	return myio_store_result(conn);
}

/*
 * mysrc_quote: a string literal for MySQL, escaped for the connection's
 * character set.
 */
char *
mysrc_quote(TributarySource *src, const char *val)
{
	size_t		len = strlen(val);
	char	   *buf = palloc(len * 2 + 3);
	unsigned long n;

	buf[0] = '\'';
	n = mysql_real_escape_string(mysrc_conn(src), buf + 1, val, len);
	buf[n + 1] = '\'';
	buf[n + 2] = '\0';
	return buf;
}

/*
 * mysrc_variable: a global server variable, or NULL when the server does not
 * have it.
 */
static char *
mysrc_variable(TributarySource *src, const char *name)
{
	char	   *sql = psprintf("SHOW GLOBAL VARIABLES LIKE %s", mysrc_quote(src, name));
	MYSQL_RES  *res = mysrc_query(src, sql);
	MYSQL_ROW	row = res ? mysql_fetch_row(res) : NULL;
	char	   *val = (row && row[1]) ? pstrdup(row[1]) : NULL;

	if (res)
		mysql_free_result(res);
	return val;
}

/*
 * mysrc_describe_table: columns (with the PostgreSQL type of DESIGN §5) and
 * primary key of a table, as JSON text; NULL when it does not exist.
 */
static char *
mysrc_describe_table(TributarySource *src, const char *nsp, const char *rel)
{
	char	   *schema_lit = mysrc_quote(src, nsp);
	char	   *table_lit = mysrc_quote(src, rel);
	MYSQL_RES  *res;
	MYSQL_ROW	row;
	StringInfoData buf;
	bool		first = true;
	List	   *json_checks = NIL;

	/*
	 * MariaDB's JSON is LONGTEXT with a CHECK (json_valid(`col`)); MySQL's
	 * CHECK_CONSTRAINTS has no TABLE_NAME, and its JSON is a type of its own.
	 */
	res = mysrc_try_query(src, psprintf("SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
										"WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = %s",
										schema_lit, table_lit));
	if (res)
	{
		while ((row = mysql_fetch_row(res)) != NULL)
			if (row[0])
				json_checks = lappend(json_checks, pstrdup(row[0]));
		mysql_free_result(res);
	}

	res = mysrc_query(src, psprintf("SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, "
								 "IFNULL(CHARACTER_MAXIMUM_LENGTH, 0), IFNULL(NUMERIC_PRECISION, 0), "
								 "IFNULL(NUMERIC_SCALE, 0), IFNULL(DATETIME_PRECISION, 0), IS_NULLABLE, COLUMN_DEFAULT "
								 "FROM information_schema.COLUMNS "
								 "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
								 schema_lit, table_lit));
	if (mysql_num_rows(res) == 0)
	{
		mysql_free_result(res);
		return NULL;
	}
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"replident\": \"f\", \"wal_level\": \"logical\", ");
	/* the table's kind: BASE TABLE, or SYSTEM VERSIONED (MariaDB) */
	{
		MYSQL_RES  *tres = mysrc_query(src, psprintf("SELECT TABLE_TYPE FROM information_schema.TABLES "
													 "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
													 schema_lit, table_lit));
		MYSQL_ROW	trow = mysql_fetch_row(tres);

		appendStringInfoString(&buf, "\"table_type\": ");
		escape_json(&buf, trow && trow[0] ? trow[0] : "");
		appendStringInfoString(&buf, ", ");
		mysql_free_result(tres);
	}
	/* the binlog settings change capture needs (checked by start_job) */
	{
		MYSQL_RES  *vres = mysrc_query(src, "SHOW GLOBAL VARIABLES WHERE Variable_name IN "
									   "('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_value_options')");
		MYSQL_ROW	vrow;

		while ((vrow = mysql_fetch_row(vres)) != NULL)
		{
			escape_json(&buf, vrow[0]);
			appendStringInfoString(&buf, ": ");
			escape_json(&buf, vrow[1] ? vrow[1] : "");
			appendStringInfoString(&buf, ", ");
		}
		mysql_free_result(vres);
	}
	appendStringInfoString(&buf, "\"columns\": [");
	while ((row = mysql_fetch_row(res)) != NULL)
	{
		char	   *pg_type;
		const char *data_type = row[1];
		ListCell   *lc;

		foreach(lc, json_checks)
			if (strcmp(row[1], "longtext") == 0 &&
				strcmp((char *) lfirst(lc), psprintf("json_valid(`%s`)", row[0])) == 0)
				data_type = "json";
		PG_TRY();
		{
			pg_type = tributary_mysql_pg_type(data_type, row[2], atol(row[3]), atoi(row[4]),
											  atoi(row[5]), atoi(row[6]));
		}
		PG_CATCH();
		{
			mysql_free_result(res);
			PG_RE_THROW();
		}
		PG_END_TRY();
		if (!first)
			appendStringInfoString(&buf, ", ");
		first = false;
		appendStringInfoString(&buf, "{\"name\": ");
		escape_json(&buf, row[0]);
		appendStringInfoString(&buf, ", \"pg_type\": ");
		escape_json(&buf, pg_type);
		appendStringInfoString(&buf, ", \"mysql_type\": ");
		escape_json(&buf, row[2]);
		appendStringInfo(&buf, ", \"not_null\": %s", strcmp(row[7], "NO") == 0 ? "true" : "false");
		if (row[8] != NULL)
		{
			appendStringInfoString(&buf, ", \"default\": ");
			escape_json(&buf, row[8]);
		}
		appendStringInfoChar(&buf, '}');
	}
	mysql_free_result(res);

	appendStringInfoString(&buf, "], \"key\": [");
	res = mysrc_query(src, psprintf("SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
								 "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' "
								 "ORDER BY ORDINAL_POSITION", schema_lit, table_lit));
	first = true;
	while ((row = mysql_fetch_row(res)) != NULL)
	{
		if (!first)
			appendStringInfoString(&buf, ", ");
		first = false;
		escape_json(&buf, row[0]);
	}
	mysql_free_result(res);
	appendStringInfoChar(&buf, ']');
	mysrc_fk_describe(src, nsp, rel, &buf);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * mysrc_list_tables: the base tables outside the system databases
 * (system-versioned ones too, so that add_tables refuses them by name
 * instead of passing over them).
 */
static List *
mysrc_list_tables(TributarySource *src)
{
	MYSQL_RES  *res = mysrc_query(src, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
								  "WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND TABLE_SCHEMA NOT IN "
								  "('mysql', 'information_schema', 'performance_schema', 'sys') "
								  "ORDER BY 1, 2");
	MYSQL_ROW	row;
	List	   *tables = NIL;

	while ((row = mysql_fetch_row(res)) != NULL)
	{
		char	  **pair = palloc(sizeof(char *) * 2);

		pair[0] = pstrdup(row[0]);
		pair[1] = pstrdup(row[1]);
		tables = lappend(tables, pair);
	}
	mysql_free_result(res);
	return tables;
}

/*
 * check_variable: emit a check that a server variable has a wanted value.
 */
static void
check_variable(TributarySource *src, TributaryCheckEmit emit, void *arg,
			   const char *name, const char *want, const char *hint)
{
	char	   *val = mysrc_variable(src, name);

	if (val && pg_strcasecmp(val, want) == 0)
		emit(arg, name, true, psprintf("%s is %s", name, val), NULL);
	else
		emit(arg, name, false,
			 psprintf("%s is %s, should be %s", name, val ? val : "not set", want), hint);
}

/*
 * mysrc_account: the connected account as 'user'@'host', for hints.
 */
static char *
mysrc_account(TributarySource *src)
{
	MYSQL_RES  *res = mysrc_query(src, "SELECT CURRENT_USER()");
	MYSQL_ROW	row = mysql_fetch_row(res);
	char	   *account = pstrdup(row && row[0] ? row[0] : "user@host");
	char	   *at = strrchr(account, '@');
	char	   *quoted;

	mysql_free_result(res);
	if (at == NULL)
		return account;
	*at = '\0';
	quoted = psprintf("'%s'@'%s'", account, at + 1);
	return quoted;
}

/*
 * mysrc_run_checks: the MySQL prerequisites, one emitted row each.
 */
static void
mysrc_run_checks(TributarySource *src, List *tables, TributaryCheckEmit emit, void *arg)
{
	MYSQL	   *conn = mysrc_conn(src);
	char	   *metadata;
	char	   *value_options;
	char	   *server_id;
	MYSQL_RES  *res;
	MYSQL_ROW	row;
	bool		repl_slave = false;
	bool		repl_client = false;
	bool		can_select = false;
	ListCell   *lc;

	emit(arg, "connection", true,
		 psprintf("connected to %s as %s", mysql_get_server_info(conn),
				  mysql_get_host_info(conn)), NULL);

	check_variable(src, emit, arg, "log_bin", "ON",
				   "Start the server with log_bin enabled (log-bin=mysql-bin in my.cnf) and restart it.");
	check_variable(src, emit, arg, "binlog_format", "ROW",
				   "SET GLOBAL binlog_format = 'ROW'; and set binlog_format=ROW in my.cnf.");
	check_variable(src, emit, arg, "binlog_row_image", "FULL",
				   "SET GLOBAL binlog_row_image = 'FULL'; and set binlog_row_image=FULL in my.cnf.");

	metadata = mysrc_variable(src, "binlog_row_metadata");
	if (metadata == NULL)
		emit(arg, "binlog_row_metadata", true,
			 "the server has no binlog_row_metadata: column names come from information_schema and the job's schema history",
			 NULL);
	else if (pg_strcasecmp(metadata, "FULL") == 0)
		emit(arg, "binlog_row_metadata", true, "binlog_row_metadata is FULL", NULL);
	else
		emit(arg, "binlog_row_metadata", true,
			 psprintf("binlog_row_metadata is %s: column names and signedness come from information_schema and the job's schema history", metadata),
			 "FULL is recommended: SET GLOBAL binlog_row_metadata = 'FULL'; and set it in my.cnf.");

	value_options = mysrc_variable(src, "binlog_row_value_options");
	if (value_options != NULL && pg_strcasecmp(value_options, "PARTIAL_JSON") == 0)
		emit(arg, "binlog_row_value_options", false,
			 "binlog_row_value_options is PARTIAL_JSON: JSON updates are logged as diffs, not full values",
			 "SET GLOBAL binlog_row_value_options = ''; and remove it from my.cnf.");
	else
		emit(arg, "binlog_row_value_options", true,
			 value_options && *value_options ? psprintf("binlog_row_value_options is %s", value_options)
			 : "JSON values are logged whole", NULL);

	server_id = mysrc_variable(src, "server_id");
	if (server_id && atol(server_id) != 0)
		emit(arg, "server_id", true, psprintf("server_id is %s", server_id), NULL);
	else
		emit(arg, "server_id", false, "server_id is 0: the server cannot serve replicas",
			 "Set server_id to a unique non-zero value in my.cnf and restart the server.");

	res = mysrc_query(src, "SHOW GRANTS FOR CURRENT_USER()");
	while (res && (row = mysql_fetch_row(res)) != NULL)
	{
		const char *g = row[0];

		if (strstr(g, "ALL PRIVILEGES ON *.*"))
			repl_slave = repl_client = can_select = true;
		if (strstr(g, "REPLICATION SLAVE") && strstr(g, " ON *.*"))
			repl_slave = true;
		if ((strstr(g, "REPLICATION CLIENT") || strstr(g, "BINLOG MONITOR")) && strstr(g, " ON *.*"))
			repl_client = true;
		if (strstr(g, "SELECT") || strstr(g, "ALL PRIVILEGES"))
			can_select = true;
	}
	if (res)
		mysql_free_result(res);
	if (repl_slave && repl_client && can_select)
		emit(arg, "privileges", true, "REPLICATION SLAVE, REPLICATION CLIENT and SELECT are granted", NULL);
	else
		emit(arg, "privileges", false,
			 psprintf("missing:%s%s%s", repl_slave ? "" : " REPLICATION SLAVE",
					  repl_client ? "" : " REPLICATION CLIENT", can_select ? "" : " SELECT"),
			 psprintf("On the source run GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO %s;",
					  mysrc_account(src)));

	res = mysrc_try_query(src, "SHOW MASTER STATUS");
	if (res == NULL)
		res = mysrc_try_query(src, "SHOW BINARY LOG STATUS");
	row = res ? mysql_fetch_row(res) : NULL;
	if (row && row[0])
		emit(arg, "binlog_position", true, psprintf("binary log at %s:%s", row[0], row[1]), NULL);
	else
		emit(arg, "binlog_position", false, "the server reports no binary log position",
			 "Enable the binary log (log_bin) and grant REPLICATION CLIENT.");
	if (res)
		mysql_free_result(res);

	foreach(lc, tables)
	{
		char	   *qualified = (char *) lfirst(lc);
		char	   *dot = strchr(qualified, '.');
		char	   *nsp;
		char	   *rel;
		char	   *sql;
		bool		exists;
		bool		has_key;

		if (dot == NULL)
		{
			emit(arg, psprintf("table %s", qualified), false,
				 psprintf("\"%s\" is not a database.table name", qualified),
				 "Name source tables as database.table.");
			continue;
		}
		nsp = pnstrdup(qualified, dot - qualified);
		rel = pstrdup(dot + 1);
		sql = psprintf("SELECT EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s), "
					   "EXISTS (SELECT 1 FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = %s "
					   "AND TABLE_NAME = %s AND CONSTRAINT_TYPE = 'PRIMARY KEY')",
					   mysrc_quote(src, nsp), mysrc_quote(src, rel), mysrc_quote(src, nsp), mysrc_quote(src, rel));
		res = mysrc_query(src, sql);
		row = mysql_fetch_row(res);
		exists = (row && strcmp(row[0], "1") == 0);
		has_key = (row && strcmp(row[1], "1") == 0);
		mysql_free_result(res);
		if (!exists)
			emit(arg, psprintf("table %s.%s", nsp, rel), false,
				 psprintf("source table [%s.%s] does not exist", nsp, rel),
				 "Check the table name; source tables are named database.table.");
		else if (has_key)
			emit(arg, psprintf("primary_key %s.%s", nsp, rel), true,
				 psprintf("source table [%s.%s] has a primary key", nsp, rel), NULL);
		else
			emit(arg, psprintf("primary_key %s.%s", nsp, rel), false,
				 psprintf("source table [%s.%s] do not contain any primary key", nsp, rel),
				 psprintf("On the source run ALTER TABLE `%s`.`%s` ADD PRIMARY KEY (...);", nsp, rel));
	}
	mysrc_fk_checks(src, tables, emit, arg);
}

static const TributaryAdminMethods mysql_admin = {
	.try_connect = mysrc_try_connect,
	.disconnect = mysrc_disconnect,
	.describe_table = mysrc_describe_table,
	.list_tables = mysrc_list_tables,
	.run_checks = mysrc_run_checks,
};

static const TributarySnapshotMethods mysql_snapshot = {
	.begin = mysrc_snapshot_begin,
	.join = mysrc_snapshot_join,
	.end = mysrc_snapshot_end,
	.view_position = mysrc_view_position,
	.chunk_upper = mysrc_chunk_upper,
	.copy_begin = mysrc_copy_begin,
	.copy_read = mysrc_copy_read,
};

static const TributaryPollMethods mysql_poll = {
	.keyset = &mysrc_keyset,
	.bound_query = mysrc_bound_query,
	.rows_begin = mysrc_rows_begin,
};

static const TributaryStreamMethods mysql_stream = {
	.fix_start = mysrc_stream_fix_start,
	.prepare = mysrc_stream_prepare,
	.start = mysrc_stream_start,
	.referential_actions = mysrc_referential_actions,
	.poll = mysrc_stream_poll,
	.socket = mysrc_stream_socket,
	.close = mysrc_stream_close,
};

static const TributaryPositionMethods mysql_position = {
	.current = mysrc_current_position,
	.out = mysrc_position_out,
	.in = mysrc_position_in,
	.bytes = mysrc_position_bytes,
};

/* MySQL and MariaDB: helpers cannot share a view, but open their own */
const TributaryConnector tributary_mysql_connector = {
	.kind = "mysql",
	.caps = TRIB_CAP_OWN_VIEWS,
	.admin = &mysql_admin,
	.snapshot = &mysql_snapshot,
	.stream = &mysql_stream,
	.poll = &mysql_poll,
	.position = &mysql_position,
};
