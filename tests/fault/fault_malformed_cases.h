/* SPDX-License-Identifier: MIT */
/*
 * The malformed replies of the fault tests (catalogue B.13-B.23), shared by test_fault_malformed.c
 * (blocking calls) and tests/nonblocking (the same bytes through smtpc_client_step()).
 *
 * FAULT_MALFORMED_CASES(X) expands X(name, as_greeting, as_reply) once per case: the bytes as the
 * greeting (a 220 gone wrong) and as a command's reply (a 250 gone wrong). Each must be refused with
 * SMTPC_EPROTOCOL at once, the connection closed, nothing more sent.
 */
#ifndef SMTPC_FAULT_MALFORMED_CASES_H
#define SMTPC_FAULT_MALFORMED_CASES_H

/* clang-format off */
#define FAULT_MALFORMED_CASES(X)                                                            \
    X(mismatched_multiline, "220-a\r\n221 b\r\n", "250-a\r\n251 b\r\n")                     \
    X(mismatched_multiline_class, "220-a\r\n520 b\r\n", "250-a\r\n550 b\r\n")               \
    X(code_099, "099 x\r\n", "099 x\r\n")                                                   \
    X(code_600, "600 x\r\n", "600 x\r\n")                                                   \
    X(code_150, "150 x\r\n", "150 x\r\n")                                                   \
    X(code_1xx, "1xx x\r\n", "1xx x\r\n")                                                   \
    X(code_two_digits, "22 x\r\n", "25 x\r\n")                                              \
    X(code_four_digits, "2200 x\r\n", "2500 x\r\n")                                         \
    X(code_no_separator, "220OK\r\n", "250OK\r\n")                                          \
    X(code_leading_space, " 220 x\r\n", " 250 x\r\n")                                       \
    X(code_plus_sign, "+220 x\r\n", "+250 x\r\n")                                           \
    X(code_fullwidth_digits, "\xef\xbc\x92\xef\xbc\x92\xef\xbc\x90 x\r\n",                  \
      "\xef\xbc\x92\xef\xbc\x95\xef\xbc\x90 x\r\n")                                         \
    X(code_letters, "abc x\r\n", "abc x\r\n")                                               \
    X(bare_lf, "220 OK\n", "250 OK\n")                                                      \
    X(bare_lf_mid_multiline, "220-a\n220 b\r\n", "250-a\n250 b\r\n")                        \
    X(bare_cr, "220 O\rK\r\n", "250 O\rK\r\n")                                              \
    X(cr_cr_lf, "220 OK\r\r\n", "250 OK\r\r\n")                                             \
    X(nul_in_text, "220 O\0K\r\n", "250 O\0K\r\n")                                          \
    X(nul_in_code, "2\0" "20 x\r\n", "2\0" "50 x\r\n")                                      \
    X(empty_line, "\r\n", "\r\n")
/* clang-format on */

#endif /* SMTPC_FAULT_MALFORMED_CASES_H */
