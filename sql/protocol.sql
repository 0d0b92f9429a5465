--
-- The tributary_decoder protocol reader (the one the PostgreSQL connector
-- uses) validates what it reads: hand-made messages, good and bad.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_tributary;
-- the test module's reader of tributary_decoder messages (not part of the extension)
CREATE OR REPLACE FUNCTION public.test_read_message(message bytea, in_stream boolean DEFAULT false,
												   batch boolean DEFAULT false)
RETURNS text LANGUAGE C STRICT AS 'tributary_test', 'tributary_read_message';
RESET client_min_messages;
\set SHOW_CONTEXT never

-- INSERT relid 7, one text value "hi" and a NULL
SELECT test_read_message('\x49000000074e000274000000026869' || '\x6e'::bytea);
-- UPDATE with old and new tuples, an unchanged TOASTed value in the new one
SELECT test_read_message('\x55000000074f00017400000001314e000275740000000132'::bytea);
-- RELATION pub.t with one key column of type int4 (oid 23), typmod -1
SELECT test_read_message('\x520000000770756200740066' || '\x0001'::bytea || '\x0169640000000017ffffffff'::bytea);
-- a change inside a streamed block carries the xid
SELECT test_read_message('\x4400000063000000074f0001740000000131'::bytea, true);

-- malformed input
SELECT test_read_message('\x49000000074e0001740000000268'::bytea);   -- value shorter than its length
SELECT test_read_message('\x49000000074e000174ffffffff'::bytea);     -- length beyond the message
SELECT test_read_message('\x49000000074e0001780000000168'::bytea);   -- unknown value kind 'x'
SELECT test_read_message('\x49000000074f0001740000000168'::bytea);   -- INSERT with an old tuple
SELECT test_read_message('\x49000000074e000174000000016869'::bytea); -- a byte left over
SELECT test_read_message('\x5a'::bytea);                             -- unknown type 'Z'
SELECT test_read_message('\x49000000'::bytea);                       -- truncated
SELECT test_read_message('\x4900000000000000074e0000'::bytea, true); -- streamed change without xid
SELECT test_read_message('\x530000006301'::bytea, true);             -- nested STREAM START
SELECT test_read_message('\x45'::bytea);                             -- STREAM STOP outside a stream
SELECT test_read_message('\x520000000770756200'::bytea);             -- unterminated string
SELECT test_read_message('\x54000000000000'::bytea);                 -- TRUNCATE of no relation
SELECT test_read_message(''::bytea);                                 -- empty
