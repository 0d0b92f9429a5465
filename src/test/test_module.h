/*-------------------------------------------------------------------------
 *
 * test_module.h
 *		What the parts of tributary_test.so share (see test_module.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_TEST_MODULE_H
#define TRIBUTARY_TEST_MODULE_H

/* replay_source.c */
extern void tributary_test_register_kinds(void);

#endif							/* TRIBUTARY_TEST_MODULE_H */
