--
-- tributary_decoder through pg_logical_slot_get_changes, in its text
-- rendering (the binary messages read back and printed).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_tributary;
-- the test module's reader of tributary_decoder messages (not part of the extension)
CREATE OR REPLACE FUNCTION public.test_read_message(message bytea, in_stream boolean DEFAULT false,
												   batch boolean DEFAULT false)
RETURNS text LANGUAGE C STRICT AS 'tributary_test', 'tributary_read_message';
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE SCHEMA dsrc;
CREATE TABLE dsrc.t (id int PRIMARY KEY, v text, n numeric(10,2));
ALTER TABLE dsrc.t REPLICA IDENTITY FULL;
CREATE TABLE dsrc.big (id int PRIMARY KEY, doc text, note text);
ALTER TABLE dsrc.big REPLICA IDENTITY FULL;
ALTER TABLE dsrc.big ALTER COLUMN doc SET STORAGE EXTERNAL;
CREATE TABLE dsrc.def (id int PRIMARY KEY, doc text);
ALTER TABLE dsrc.def ALTER COLUMN doc SET STORAGE EXTERNAL;
CREATE TABLE dsrc.other (id int PRIMARY KEY);
CREATE TABLE dsrc.comp (a int, b text, c int, PRIMARY KEY (b, a));
ALTER TABLE dsrc.comp REPLICA IDENTITY FULL;
CREATE TABLE dsrc.types (
  id int PRIMARY KEY, b boolean, i2 smallint, i8 bigint, f4 real, f8 double precision,
  num numeric, vc varchar(5), ch char(3), tx text, by bytea, d date, ts timestamp(3),
  tz timestamptz, tm time, iv interval, u uuid, j json, jb jsonb, arr int[], tarr text[],
  inet inet, bits bit(4), gen int GENERATED ALWAYS AS (id * 2) STORED);
ALTER TABLE dsrc.types REPLICA IDENTITY FULL;

SELECT 'init' FROM pg_create_logical_replication_slot('dec_slot', 'tributary_decoder');

-- inserts, updates, deletes, a key change, NULLs
BEGIN;
INSERT INTO dsrc.t VALUES (1, 'one', 1.5), (2, NULL, NULL);
UPDATE dsrc.t SET v = 'uno' WHERE id = 1;
UPDATE dsrc.t SET id = 20 WHERE id = 2;
DELETE FROM dsrc.t WHERE id = 1;
COMMIT;
INSERT INTO dsrc.other VALUES (1);
SELECT data FROM pg_logical_slot_get_changes('dec_slot', NULL, NULL, 'format', 'text');

-- table filter; other tables are skipped
INSERT INTO dsrc.t VALUES (3, 'three', 3);
INSERT INTO dsrc.other VALUES (2);
SELECT data FROM pg_logical_slot_get_changes('dec_slot', NULL, NULL, 'format', 'text', 'tables', 'dsrc.t');

-- composite key columns are flagged in key order of the table's columns
INSERT INTO dsrc.comp VALUES (1, 'x', 10);
UPDATE dsrc.comp SET b = 'y' WHERE a = 1;
SELECT data FROM pg_logical_slot_get_changes('dec_slot', NULL, NULL, 'format', 'text', 'tables', 'dsrc.comp');

-- unchanged TOASTed values are filled from the REPLICA IDENTITY FULL old tuple
INSERT INTO dsrc.big VALUES (1, repeat('abcdefgh', 1000), 'n1');
INSERT INTO dsrc.def VALUES (1, repeat('ijklmnop', 1000));
SELECT count(*) FROM pg_logical_slot_get_changes('dec_slot', NULL, NULL, 'format', 'text');
UPDATE dsrc.big SET note = 'n2' WHERE id = 1;
-- without REPLICA IDENTITY FULL there is no old tuple to fill from
UPDATE dsrc.def SET id = id WHERE id = 1;
SELECT length(data) AS length_of_update
  FROM pg_logical_slot_peek_changes('dec_slot', NULL, NULL, 'format', 'text', 'tables', 'dsrc.big') WHERE data LIKE 'UPDATE%';
SELECT regexp_replace(data, '([a-z]{8})(\1)+', '\1...', 'g') AS data
  FROM pg_logical_slot_get_changes('dec_slot', NULL, NULL, 'format', 'text', 'tables', 'dsrc.big, dsrc.def');

-- truncate
TRUNCATE dsrc.t, dsrc.other;
TRUNCATE dsrc.comp RESTART IDENTITY CASCADE;
SELECT data FROM pg_logical_slot_get_changes('dec_slot', NULL, NULL, 'format', 'text', 'tables', 'dsrc.t,dsrc.comp');

-- logical messages (transactional and not), and the messages option
SELECT 'msg' FROM pg_logical_emit_message(true, 'tributary', 'ddl: ALTER TABLE x');
SELECT 'msg' FROM pg_logical_emit_message(false, 'app', 'hello');
SELECT data FROM pg_logical_slot_peek_changes('dec_slot', NULL, NULL, 'format', 'text');
SELECT count(*) FROM pg_logical_slot_get_changes('dec_slot', NULL, NULL, 'format', 'text', 'messages', 'false');

-- every common type, as text and as binary (rendered through receive + output)
INSERT INTO dsrc.types VALUES (1, true, -32768, 9223372036854775807, 1.5, -2.25e-300,
  12345678901234567890.123456789, 'héllo', 'ab', E'tab\there ''quoted'' \\ back', '\x00ff10',
  '2024-02-29', '2024-02-29 23:59:59.123', '2024-01-01 12:00:00+00', '24:00:00', '1 year 2 mons -3 days',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '{"b": {"c": null}}', '{1,NULL,3}',
  '{"x y",z}', '192.168.0.1/24', B'1010');
INSERT INTO dsrc.types (id) VALUES (2);
-- the session's output settings do not change the values sent
SET datestyle = 'SQL, DMY';
SET timezone = 'Asia/Tokyo';
SET extra_float_digits = -3;
SELECT data FROM pg_logical_slot_peek_changes('dec_slot', NULL, NULL, 'format', 'text', 'tables', 'dsrc.types');
SELECT count(*) AS messages, bool_and(a.data = b.data) AS binary_same_as_text
  FROM (SELECT data, row_number() OVER () AS n FROM pg_logical_slot_peek_changes('dec_slot', NULL, NULL, 'format', 'text', 'tables', 'dsrc.types')) a
  JOIN (SELECT data, row_number() OVER () AS n FROM pg_logical_slot_peek_changes('dec_slot', NULL, NULL, 'format', 'text', 'tables', 'dsrc.types', 'binary', 'true')) b USING (n);
-- the binary protocol itself, through the binary interface
SELECT count(*) AS messages, bool_and(length(data) > 0) AS nonempty,
       string_agg(chr(get_byte(data, 0)), '') AS types
  FROM pg_logical_slot_get_binary_changes('dec_slot', NULL, NULL, 'tables', 'dsrc.types', 'binary', 'true');
-- and the session's settings are back as they were
SHOW datestyle;
SHOW extra_float_digits;
RESET datestyle;
RESET timezone;
RESET extra_float_digits;

-- a large transaction is streamed in blocks before it commits
INSERT INTO dsrc.t SELECT g, 'row ' || g, g FROM generate_series(100, 3099) g;
SELECT count(*) FILTER (WHERE data LIKE 'STREAM START%') > 1 AS several_blocks,
       count(*) FILTER (WHERE data = 'STREAM START first') AS first_blocks,
       count(*) FILTER (WHERE data LIKE 'INSERT%') AS inserts,
       count(*) FILTER (WHERE data = 'STREAM COMMIT') AS commits,
       count(*) FILTER (WHERE data = 'BEGIN') AS plain_begins
  FROM pg_logical_slot_get_changes('dec_slot', NULL, NULL, 'format', 'text', 'streaming', 'true');
-- without the option it is sent whole at commit
INSERT INTO dsrc.t SELECT g, 'row ' || g, g FROM generate_series(4000, 6999) g;
SELECT count(*) FILTER (WHERE data LIKE 'STREAM%') AS stream_messages,
       count(*) FILTER (WHERE data LIKE 'INSERT%') AS inserts
  FROM pg_logical_slot_get_changes('dec_slot', NULL, NULL, 'format', 'text');
-- a streamed transaction that aborts, and an aborted subtransaction
BEGIN;
INSERT INTO dsrc.t SELECT g, 'row ' || g, g FROM generate_series(10000, 12999) g;
ROLLBACK;
BEGIN;
INSERT INTO dsrc.t SELECT g, 'row ' || g, g FROM generate_series(20000, 22999) g;
SAVEPOINT s1;
INSERT INTO dsrc.t SELECT g, 'row ' || g, g FROM generate_series(30000, 32999) g;
ROLLBACK TO SAVEPOINT s1;
COMMIT;
SELECT count(*) FILTER (WHERE data LIKE 'STREAM ABORT%') AS aborts,
       count(*) FILTER (WHERE data = 'STREAM ABORT subtransaction') AS subxact_aborts,
       count(*) FILTER (WHERE data = 'STREAM COMMIT') AS commits
  FROM pg_logical_slot_get_changes('dec_slot', NULL, NULL, 'format', 'text', 'streaming', 'true');

-- protocol version 2 batches the messages of a transaction into writes of
-- up to 64 kB, each ending with a whole message; version 1 writes one each
INSERT INTO dsrc.t VALUES (50000, 'a', 1), (50001, 'b', 2), (50002, NULL, 3);
INSERT INTO dsrc.t SELECT g, repeat('x', 100), g FROM generate_series(60000, 61999) g;
SELECT count(*) AS writes, sum(length(data)) AS bytes
  FROM pg_logical_slot_peek_binary_changes('dec_slot', NULL, NULL, 'tables', 'dsrc.t');
SELECT count(*) AS writes, sum(length(data)) AS bytes, max(length(data)) < 65536 + 200 AS bounded
  FROM pg_logical_slot_peek_binary_changes('dec_slot', NULL, NULL, 'tables', 'dsrc.t', 'proto_version', '2');
-- the connector's reader takes a batch apart
SELECT regexp_replace(test_read_message(data, false, true), 'relid=\d+', 'relid=N', 'g') AS batch
  FROM pg_logical_slot_peek_binary_changes('dec_slot', NULL, NULL, 'tables', 'dsrc.t', 'proto_version', '2')
 LIMIT 1;
SELECT sum(array_length(string_to_array(test_read_message(data, false, true), E'\n'), 1)) AS messages
  FROM pg_logical_slot_get_binary_changes('dec_slot', NULL, NULL, 'tables', 'dsrc.t', 'proto_version', '2');

-- options are validated
SELECT data FROM pg_logical_slot_peek_changes('dec_slot', NULL, NULL, 'include-xids', '0');
SELECT data FROM pg_logical_slot_peek_changes('dec_slot', NULL, NULL, 'proto_version', '3');
SELECT data FROM pg_logical_slot_peek_changes('dec_slot', NULL, NULL, 'binary', 'perhaps');
SELECT data FROM pg_logical_slot_peek_changes('dec_slot', NULL, NULL, 'format', 'json');
SELECT data FROM pg_logical_slot_peek_changes('dec_slot', NULL, NULL, 'tables', 'nodot');
-- binary output needs the binary interface
SELECT data FROM pg_logical_slot_peek_changes('dec_slot', NULL, NULL);

SELECT pg_drop_replication_slot('dec_slot');
DROP SCHEMA dsrc CASCADE;
