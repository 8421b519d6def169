#include "textflag.h"

// SSE2 forms of the scanners in bytesconv.go, sixteen bytes per step. Every
// amd64 CPU has SSE2, so there is no feature check.
//
// Both functions take p, the bytes from the scan's start to the end of the
// caller's capacity, and n <= len(p), the bytes that count; they return the
// index of the first byte of the set below n, or n. Whole blocks are read
// while 16 bytes of p remain. The last, shorter block is read as 16 bytes
// from its start when that stays within one 4 KiB page, else as the 16 bytes
// that end at the end of p (then shifted): in both cases only memory on
// pages that p's own bytes lie on, the way the runtime's IndexByte reads
// short inputs. Bytes read past n never decide: a flag at or past n ends
// the scan with n.

// Broadcast constants: 0x20, ',', 0x05, 0x3f, '@'.
DATA scanConst<>+0x00(SB)/8, $0x2020202020202020
DATA scanConst<>+0x08(SB)/8, $0x2020202020202020
DATA scanConst<>+0x10(SB)/8, $0x2c2c2c2c2c2c2c2c
DATA scanConst<>+0x18(SB)/8, $0x2c2c2c2c2c2c2c2c
DATA scanConst<>+0x20(SB)/8, $0x0505050505050505
DATA scanConst<>+0x28(SB)/8, $0x0505050505050505
DATA scanConst<>+0x30(SB)/8, $0x3f3f3f3f3f3f3f3f
DATA scanConst<>+0x38(SB)/8, $0x3f3f3f3f3f3f3f3f
DATA scanConst<>+0x40(SB)/8, $0x4040404040404040
DATA scanConst<>+0x48(SB)/8, $0x4040404040404040
GLOBL scanConst<>(SB), RODATA|NOPTR, $80

// func scanClassSSE2(p []byte, n int, cls uint8) int
//
// The set is class cls of sipClassTable (clsHostEnd or clsParamEnd). Each
// block is first tested against what hostEndMask flags (every byte up to
// 0x20, ',' and the bytes that OR 0x05 turns into 0x3f: ':' ';' '>' '?'),
// a superset of both classes; each flagged byte is then looked up in the
// table, lowest first.
//
// Registers: SI p, BX len(p), DX n, AX block start, R9 cls, R10 table,
// R13 load address, CX shift of the block's flags, R8 flags.
TEXT ·scanClassSSE2(SB), NOSPLIT, $0-48
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), BX
	MOVQ n+24(FP), DX
	MOVBLZX cls+32(FP), R9
	LEAQ ·sipClassTable(SB), R10
	XORQ AX, AX
	MOVOU scanConst<>+0x00(SB), X8
	MOVOU scanConst<>+0x10(SB), X9
	MOVOU scanConst<>+0x20(SB), X10
	MOVOU scanConst<>+0x30(SB), X11

cloop:
	CMPQ AX, DX
	JGE  cnone
	LEAQ 16(AX), CX
	CMPQ CX, BX
	JGT  ctail
	LEAQ (SI)(AX*1), R13
	XORL CX, CX

cmask:
	MOVOU (R13), X0
	MOVOU X0, X1
	PMINUB X8, X1
	PCMPEQB X0, X1           // byte <= 0x20
	MOVOU X0, X2
	PCMPEQB X9, X2           // ','
	POR  X10, X0
	PCMPEQB X11, X0          // ':' ';' '>' '?'
	POR  X2, X1
	POR  X0, X1
	PMOVMSKB X1, R8
	SHRL CX, R8
	TESTL R8, R8
	JZ   cnext

ccheck:
	BSFL R8, DI
	LEAQ (AX)(DI*1), R11
	CMPQ R11, DX
	JGE  cnone
	MOVBLZX (SI)(R11*1), R12
	MOVBLZX (R10)(R12*1), R12
	TESTL R9, R12
	JNZ  cfound
	LEAL -1(R8), R12
	ANDL R12, R8             // drop the lowest flag
	JNZ  ccheck

cnext:
	ADDQ $16, AX
	JMP  cloop

ctail:
	// Fewer than 16 bytes of p from AX on (AX < n <= len(p)).
	LEAQ (SI)(AX*1), R13
	MOVQ R13, R12
	ANDQ $0xfff, R12
	CMPQ R12, $0xff0
	JA   ctailend
	XORL CX, CX
	JMP  cmask

ctailend:
	// The 16 bytes ending at the end of p: drop the flags of the bytes
	// before AX.
	LEAQ -16(SI)(BX*1), R13
	MOVQ AX, CX
	ADDQ $16, CX
	SUBQ BX, CX
	JMP  cmask

cfound:
	MOVQ R11, ret+40(FP)
	RET

cnone:
	MOVQ DX, ret+40(FP)
	RET

// func scanURIMarkSSE2(p []byte, n int) int
//
// The set is '@' and ':' ';' '>' '?' (what uriMarkMask flags).
//
// Registers as in scanClassSSE2.
TEXT ·scanURIMarkSSE2(SB), NOSPLIT, $0-40
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), BX
	MOVQ n+24(FP), DX
	XORQ AX, AX
	MOVOU scanConst<>+0x20(SB), X10
	MOVOU scanConst<>+0x30(SB), X11
	MOVOU scanConst<>+0x40(SB), X12

uloop:
	CMPQ AX, DX
	JGE  unone
	LEAQ 16(AX), CX
	CMPQ CX, BX
	JGT  utail
	LEAQ (SI)(AX*1), R13
	XORL CX, CX

umask:
	MOVOU (R13), X0
	MOVOU X0, X1
	PCMPEQB X12, X1          // '@'
	POR  X10, X0
	PCMPEQB X11, X0          // ':' ';' '>' '?'
	POR  X0, X1
	PMOVMSKB X1, R8
	SHRL CX, R8
	TESTL R8, R8
	JZ   unext
	BSFL R8, DI
	LEAQ (AX)(DI*1), R11
	CMPQ R11, DX
	JGE  unone
	MOVQ R11, ret+32(FP)
	RET

unext:
	ADDQ $16, AX
	JMP  uloop

utail:
	LEAQ (SI)(AX*1), R13
	MOVQ R13, R12
	ANDQ $0xfff, R12
	CMPQ R12, $0xff0
	JA   utailend
	XORL CX, CX
	JMP  umask

utailend:
	LEAQ -16(SI)(BX*1), R13
	MOVQ AX, CX
	ADDQ $16, CX
	SUBQ BX, CX
	JMP  umask

unone:
	MOVQ DX, ret+32(FP)
	RET
