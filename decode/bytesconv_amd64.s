#include "go_asm.h"
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


// nameAddrAVX2 and viaAVX2 parse whole From/To/Contact and Via values (see
// sipmask.go). They use AVX2 and BMI2 (BZHI), so Go calls them only when
// golang.org/x/sys/cpu reports both (useNameAddrAsm); both leave the upper
// halves of the Y registers zeroed (VZEROUPPER) on every return.

// Broadcast constants of nameAddrAVX2, 32 bytes each.
#define BCAST32(sym, off, b) \
	DATA sym<>+(off)(SB)/8, $(b*0x0101010101010101); \
	DATA sym<>+(off+8)(SB)/8, $(b*0x0101010101010101); \
	DATA sym<>+(off+16)(SB)/8, $(b*0x0101010101010101); \
	DATA sym<>+(off+24)(SB)/8, $(b*0x0101010101010101)
BCAST32(naConst, 0x000, 0x22) // "
BCAST32(naConst, 0x020, 0x3c) // <
BCAST32(naConst, 0x040, 0x2c) // ,
BCAST32(naConst, 0x060, 0x3b) // ;
BCAST32(naConst, 0x080, 0x3e) // >
BCAST32(naConst, 0x0a0, 0x40) // @
BCAST32(naConst, 0x0c0, 0x3f) // ?
BCAST32(naConst, 0x0e0, 0x3a) // :
BCAST32(naConst, 0x100, 0x20) // SP
BCAST32(naConst, 0x120, 0x5c) // \
GLOBL naConst<>(SB), RODATA|NOPTR, $0x140

// NACLASSES compares the 32 bytes of Y and leaves the classes' bytes set
// in Y2 '"', Y3 '<' ',' ';', Y4 '>', Y5 '@' '?', Y7 ':', Y6 host end
// (SP , : ; ? >) and Y9 trouble (control bytes other than SP, '\').
#define NACLASSES(Y) \
	VPCMPEQB naConst<>+0x000(SB), Y, Y2; \
	VPCMPEQB naConst<>+0x020(SB), Y, Y3; \
	VPCMPEQB naConst<>+0x040(SB), Y, Y4; \
	VPCMPEQB naConst<>+0x060(SB), Y, Y5; \
	VPOR     Y4, Y5, Y6; \
	VPOR     Y6, Y3, Y3; \
	VPCMPEQB naConst<>+0x080(SB), Y, Y4; \
	VPCMPEQB naConst<>+0x0a0(SB), Y, Y5; \
	VPCMPEQB naConst<>+0x0c0(SB), Y, Y7; \
	VPOR     Y7, Y6, Y6; \
	VPOR     Y4, Y6, Y6; \
	VPOR     Y7, Y5, Y5; \
	VPCMPEQB naConst<>+0x0e0(SB), Y, Y7; \
	VPOR     Y7, Y6, Y6; \
	VPCMPEQB naConst<>+0x100(SB), Y, Y8; \
	VPOR     Y8, Y6, Y6; \
	VPMINUB  naConst<>+0x100(SB), Y, Y9; \
	VPCMPEQB Y, Y9, Y9; \
	VPANDN   Y9, Y8, Y9; \
	VPCMPEQB naConst<>+0x120(SB), Y, Y10; \
	VPOR     Y10, Y9, Y9

// NAHIGH ORs the mask of Yx's bytes into bits 32-63 of R.
#define NAHIGH(Yx, R) \
	VPMOVMSKB Yx, DI; \
	SHLQ $32, DI; \
	ORQ  DI, R

// func nameAddrAVX2(p []byte, n int, r *nameAddrPos, bare bool) bool
//
// nameAddrPos's positions for v = p[:n] (p runs to the end of the caller's
// capacity), or false when v is not in one of the forms of sipmask.go or
// its URI does not end within the first 64 bytes. With bare set v is a URI
// alone (a Request-URI): splitURI's positions for all of v, n <= 64. The 64-byte window is read
// from p when p holds 64 bytes or the window stays within p's 4 KiB page;
// otherwise it returns false. Bytes past n never reach the masks.
//
// Masks (bit i for byte i): R9 '"', R10 '<' ',' ';', R11 '>', R12 '@' '?',
// R13 ':', AX host end, CX trouble; R8 the first min(n, 64) bytes.
TEXT ·nameAddrAVX2(SB), NOSPLIT, $0-49
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), BX
	MOVQ n+24(FP), DX
	CMPQ BX, $64
	JAE  naread
	MOVL SI, AX
	ANDL $4095, AX
	CMPL AX, $4032
	JA   nafail

naread:
	MOVQ  DX, CX
	CMPQ  CX, $64
	JBE   nawindow
	MOVL  $64, CX

nawindow:
	MOVQ  $-1, R8
	BZHIQ CX, R8, R8
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1
	NACLASSES(Y0)
	VPMOVMSKB Y2, R9
	VPMOVMSKB Y3, R10
	VPMOVMSKB Y4, R11
	VPMOVMSKB Y5, R12
	VPMOVMSKB Y7, R13
	VPMOVMSKB Y6, AX
	VPMOVMSKB Y9, CX
	NACLASSES(Y1)
	NAHIGH(Y2, R9)
	NAHIGH(Y3, R10)
	NAHIGH(Y4, R11)
	NAHIGH(Y5, R12)
	NAHIGH(Y7, R13)
	NAHIGH(Y6, AX)
	NAHIGH(Y9, CX)
	VZEROUPPER
	ANDQ R8, CX
	JNZ  nafail // a control byte other than SP, or a backslash
	ANDQ R8, R9
	ANDQ R8, R10
	ANDQ R8, R11
	ANDQ R8, R12
	ANDQ R8, R13
	ANDQ R8, AX
	// SP at either end: the general path trims.
	CMPB (SI), $0x20
	JEQ  nafail
	CMPB -1(SI)(DX*1), $0x20
	JEQ  nafail

	CMPB bare+40(FP), $0
	JEQ  naquote
	// A bare URI: all of v.
	CMPQ DX, $64
	JA   nafail
	XORL R10, R10
	MOVQ DX, R11
	MOVQ DX, R9
	JMP  nauri

naquote:
	// CX = i, after the display name's closing quote.
	XORL CX, CX
	CMPB (SI), $0x22
	JNE  naj
	ANDQ $-2, R9
	TZCNTQ R9, CX
	JCS   nafail
	INCQ CX
	CMPQ CX, $64
	JAE  nafail

naj:
	// The first '<' ',' ';' at or after i.
	MOVQ $-1, DI
	SHLQ CX, DI
	ANDQ DI, R10
	TZCNTQ R10, R10
	JCS   naend
	CMPB (SI)(R10*1), $0x3c
	JNE  naunbracketed
	// <URI>: R10 = ub, R11 = ue, R9 = pb.
	INCQ R10
	MOVQ R10, CX
	CMPQ CX, $64
	JAE  nafail
	MOVQ $-1, DI
	SHLQ CX, DI
	ANDQ DI, R11
	TZCNTQ R11, R11
	JCS   nafail
	LEAQ 1(R11), R9
	JMP  nauri

naend:
	// No '<' ',' ';': the URI runs to the end of v.
	TESTQ CX, CX
	JNZ   nafail
	CMPQ  DX, $64
	JA    nafail
	MOVQ  DX, R10
	JMP   naplain

naunbracketed:
	TESTQ CX, CX
	JNZ   nafail

naplain:
	// The URI is v[:j] (j in R10), not ending in SP.
	TESTQ R10, R10
	JZ    nafail
	CMPB  -1(SI)(R10*1), $0x20
	JEQ   nafail
	MOVQ  R10, R11
	MOVQ  R10, R9
	XORL  R10, R10

nauri:
	// sip: or sips: at ub, at least five bytes; R8 = rs.
	MOVQ R11, DI
	SUBQ R10, DI
	CMPQ DI, $5
	JLT  nafail
	MOVL (SI)(R10*1), DI
	ORL  $0x00202020, DI
	LEAQ 4(R10), R8
	CMPL DI, $0x3a706973 // "sip:"
	JEQ  nascheme
	MOVL (SI)(R10*1), DI
	ORL  $0x20202020, DI
	CMPL DI, $0x73706973 // "sips"
	JNE  nafail
	CMPB 4(SI)(R10*1), $0x3a
	JNE  nafail
	INCQ R8

nascheme:
	// CX = the URI after the scheme: bits rs to ue-1.
	MOVQ  $-1, CX
	BZHIQ R11, CX, CX
	MOVQ  $-1, DI
	BZHIQ R8, DI, DI
	NOTQ  DI
	ANDQ  DI, CX
	MOVQ  r+32(FP), DI
	MOVL  $-1, 0(DI)  // no user
	MOVQ  R8, R10     // R10 = hs
	ANDQ  CX, R12
	TZCNTQ  R12, R12
	JCS    nahost
	CMPB  (SI)(R12*1), $0x40
	JNE   nahost
	// user: rs to the first ':' before the '@', or to the '@'.
	MOVL  R8, 0(DI)
	MOVQ  $-1, BX
	BZHIQ R12, BX, BX
	ANDQ  CX, BX
	ANDQ  R13, BX
	MOVQ  R12, R10
	TZCNTQ  BX, BX
	CMOVQCC BX, R10
	MOVL  R10, 4(DI)
	LEAQ  1(R12), R10

nahost:
	// host: hs to the first host end before ue.
	MOVQ R11, BX // he = ue unless a host end comes first
	CMPQ R10, R11
	JAE  nahostdone
	CMPB (SI)(R10*1), $0x20
	JEQ  nafail
	CMPB (SI)(R10*1), $0x5b
	JEQ  nafail
	MOVQ  $-1, CX
	BZHIQ R11, CX, CX
	MOVQ  $-1, R12
	BZHIQ R10, R12, R12
	NOTQ  R12
	ANDQ  R12, CX
	ANDQ  AX, CX
	TZCNTQ  CX, CX
	CMOVQCC CX, BX

nahostdone:
	MOVL R10, 8(DI)
	MOVL BX, 12(DI)
	// port: up to six digits after ':' are read; 1-5 and at most 65535.
	XORL R12, R12
	CMPQ BX, R11
	JAE  naport
	CMPB (SI)(BX*1), $0x3a
	JNE  naport
	LEAQ 1(BX), CX
	LEAQ 7(BX), R10
	CMPQ R10, R11
	CMOVQGT R11, R10 // digits end by ue and by he+7

nadigit:
	CMPQ CX, R10
	JAE  nadigits
	MOVBLZX (SI)(CX*1), R8
	SUBL $0x30, R8
	CMPL R8, $9
	JA   nadigits
	IMULQ $10, R12
	ADDQ R8, R12
	INCQ CX
	JMP  nadigit

nadigits:
	SUBQ BX, CX
	DECQ CX // digits read
	JZ   naportbad
	CMPQ CX, $5
	JA   naportbad
	CMPQ R12, $65535
	JBE  naport

naportbad:
	XORL R12, R12

naport:
	MOVL R12, 16(DI)
	MOVL R9, 20(DI)
	// tag: ";tag=" at pb (as findParam's word test, with eight bytes of
	// the caller's capacity after the ';') and a value that starts with
	// neither '"' nor white space; it ends at a host end other than ':'.
	MOVL $-1, 24(DI)
	LEAQ 1(R9), R10
	CMPQ R10, DX
	JAE  naok
	CMPB (SI)(R9*1), $0x3b
	JNE  naok
	LEAQ 9(R9), R10
	CMPQ R10, p_len+8(FP)
	JA   naok
	MOVL 1(SI)(R9*1), R10
	ORL  $0x00202020, R10
	CMPL R10, $0x3d676174 // "tag="
	JNE  naok
	LEAQ 5(R9), R10 // vs
	CMPQ R10, DX
	JAE  naok
	MOVBLZX (SI)(R10*1), R12
	CMPB R12, $0x22
	JEQ  naok
	CMPB R12, $0x20
	JEQ  naok
	CMPB R12, $0x09
	JEQ  naok
	CMPB R12, $0x0a
	JEQ  naok
	CMPB R12, $0x0d
	JEQ  naok
	MOVL R10, 24(DI)
	MOVL $-1, 28(DI)
	CMPQ R10, $64
	JAE  naok
	MOVQ R10, CX
	MOVQ $-1, R12
	SHLQ CX, R12
	NOTQ R13
	ANDQ R13, AX
	ANDQ R12, AX
	TZCNTQ AX, AX
	JCC  natagend
	CMPQ DX, $64
	JA   naok
	MOVQ DX, AX

natagend:
	MOVL AX, 28(DI)

naok:
	MOVB $1, ret+48(FP)
	RET

nafail:
	VZEROUPPER
	MOVB $0, ret+48(FP)
	RET

// Broadcast constants of viaAVX2, 32 bytes each.
BCAST32(viaConst, 0x000, 0x2c) // ,
BCAST32(viaConst, 0x020, 0x22) // "
BCAST32(viaConst, 0x040, 0x3b) // ;
BCAST32(viaConst, 0x060, 0x3e) // >
BCAST32(viaConst, 0x080, 0x3f) // ?
BCAST32(viaConst, 0x0a0, 0x20) // SP
BCAST32(viaConst, 0x0c0, 0x09) // HT
BCAST32(viaConst, 0x0e0, 0x0d) // CR
BCAST32(viaConst, 0x100, 0x0a) // LF
GLOBL viaConst<>(SB), RODATA|NOPTR, $0x120

// VIACLASSES compares the 32 bytes of Y and leaves the classes' bytes set in
// Y2 (',' '"'), Y3 (';') and Y4 (what ends a parameter value: SP HT CR LF
// , ; > ?).
#define VIACLASSES(Y) \
	VPCMPEQB viaConst<>+0x000(SB), Y, Y4; \
	VPCMPEQB viaConst<>+0x020(SB), Y, Y2; \
	VPOR     Y4, Y2, Y2; \
	VPCMPEQB viaConst<>+0x040(SB), Y, Y3; \
	VPOR     Y3, Y4, Y4; \
	VPCMPEQB viaConst<>+0x060(SB), Y, Y5; \
	VPCMPEQB viaConst<>+0x080(SB), Y, Y6; \
	VPOR     Y5, Y6, Y6; \
	VPOR     Y6, Y4, Y4; \
	VPCMPEQB viaConst<>+0x0a0(SB), Y, Y5; \
	VPCMPEQB viaConst<>+0x0c0(SB), Y, Y6; \
	VPOR     Y5, Y6, Y6; \
	VPOR     Y6, Y4, Y4; \
	VPCMPEQB viaConst<>+0x0e0(SB), Y, Y5; \
	VPCMPEQB viaConst<>+0x100(SB), Y, Y6; \
	VPOR     Y5, Y6, Y6; \
	VPOR     Y6, Y4, Y4

// LWSFAIL jumps to label when the byte in R is SP, HT, CR or LF.
#define LWSFAIL(R, label) \
	CMPB R, $0x20; \
	JEQ  label; \
	CMPB R, $0x09; \
	JEQ  label; \
	CMPB R, $0x0d; \
	JEQ  label; \
	CMPB R, $0x0a; \
	JEQ  label

// func viaAVX2(p []byte, n int, r *viaPos) bool
//
// viaPos's positions for v = p[:n] (p runs to the end of the caller's
// capacity): firstValue(v) and findParam on it for branch, or false when
// v's first value does not end within the first 128 bytes or takes a
// path of those functions other than the plain one (sipmask.go). The
// 128-byte window is read from p when p holds 128 bytes or the window stays
// within p's 4 KiB page; otherwise it returns false. Bytes past n never
// reach the masks.
//
// Masks, bits 0-63 and 64-127 of the window: R9/R10 ',' '"', R11/R12 ';',
// R13/AX parameter value ends. BX is the end of the first value.
TEXT ·viaAVX2(SB), NOSPLIT, $0-41
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), BX
	MOVQ n+24(FP), DX
	CMPQ BX, $128
	JAE  vread
	MOVL SI, AX
	ANDL $4095, AX
	CMPL AX, $3968
	JA   vfail

vread:
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1
	VMOVDQU 64(SI), Y10
	VMOVDQU 96(SI), Y11
	VIACLASSES(Y0)
	VPMOVMSKB Y2, R9
	VPMOVMSKB Y3, R11
	VPMOVMSKB Y4, R13
	VIACLASSES(Y1)
	NAHIGH(Y2, R9)
	NAHIGH(Y3, R11)
	NAHIGH(Y4, R13)
	VIACLASSES(Y10)
	VPMOVMSKB Y2, R10
	VPMOVMSKB Y3, R12
	VPMOVMSKB Y4, AX
	VIACLASSES(Y11)
	NAHIGH(Y2, R10)
	NAHIGH(Y3, R12)
	NAHIGH(Y4, AX)
	VZEROUPPER
	// Cut the masks to the first min(n, 128) bytes.
	MOVQ DX, CX
	CMPQ CX, $128
	JBE  vlim
	MOVL $128, CX

vlim:
	MOVQ  $-1, R8
	BZHIQ CX, R8, R8
	ANDQ  R8, R9
	ANDQ  R8, R11
	ANDQ  R8, R13
	XORL  R8, R8
	SUBQ  $64, CX
	JBE   vlimhigh
	MOVQ  $-1, R8
	BZHIQ CX, R8, R8

vlimhigh:
	ANDQ R8, R10
	ANDQ R8, R12
	ANDQ R8, AX

	// The first value ends at the first ',' (BX), unless a '"' comes
	// first; firstValue trims it, so neither end may be white space.
	TZCNTQ R9, BX
	JCC  vcomma
	TZCNTQ R10, BX
	JCS   vnocomma
	ADDQ $64, BX

vcomma:
	CMPB (SI)(BX*1), $0x22
	JEQ  vfail
	TESTQ BX, BX
	JZ   vfail
	MOVBLZX (SI), CX
	LWSFAIL(CL, vfail)
	MOVBLZX -1(SI)(BX*1), CX
	LWSFAIL(CL, vfail)
	JMP  vbranch

vnocomma:
	CMPQ DX, $128
	JA   vfail
	MOVQ DX, BX

vbranch:
	MOVQ r+32(FP), DI
	MOVL BX, 0(DI)
	MOVL $-1, 4(DI)
	// ';' and value ends within the first value only.
	MOVQ  $-1, R8
	BZHIQ BX, R8, R8
	ANDQ  R8, R11
	ANDQ  R8, R13
	XORL  R8, R8
	MOVQ  BX, CX
	SUBQ  $64, CX
	JBE   vsemis
	MOVQ  $-1, R8
	BZHIQ CX, R8, R8

vsemis:
	ANDQ R8, R12
	ANDQ R8, AX

vnext:
	// CX = the next ';', taken out of the mask.
	TZCNTQ R11, CX
	JCC  vlow
	TZCNTQ R12, CX
	JCS   vok // no branch parameter: nil
	BTRQ CX, R12
	ADDQ $64, CX
	JMP  vparam

vlow:
	BTRQ CX, R11

vparam:
	// findParam's word test: the name after the ';' (not the last byte of
	// the value), with eight bytes of capacity there.
	LEAQ 1(CX), R8
	CMPQ R8, BX
	JAE  vfail
	LEAQ 9(CX), R8
	CMPQ R8, p_len+8(FP)
	JA   vfail
	MOVQ 1(SI)(CX*1), R8 // raw
	MOVQ $0x0000202020202020, R9
	ORQ  R8, R9 // w: the letters folded
	MOVQ $0x00ffffffffffffff, R10
	ANDQ R9, R10
	MOVQ $0x003d68636e617262, DI // "branch="
	CMPQ R10, DI
	JEQ  vmatch
	// Another parameter: findParam steps to the next ';' when its first
	// byte is a token byte and its name differs within "branch".
	MOVBLZX R8B, R10
	LEAQ ·tokenTable(SB), DI
	CMPB (DI)(R10*1), $0
	JEQ  vfail
	MOVQ $0x0000ffffffffffff, R10
	ANDQ R9, R10
	MOVQ $0x000068636e617262, DI // "branch"
	CMPQ R10, DI
	JEQ  vfail
	JMP  vnext

vmatch:
	// The value starts at s+8, inside the first value, with neither '"'
	// nor white space.
	LEAQ 8(CX), R9
	CMPQ R9, BX
	JAE  vfail
	MOVBLZX (SI)(R9*1), R10
	CMPB R10B, $0x22
	JEQ  vfail
	LWSFAIL(R10B, vfail)
	// It ends at the first value end at or after s+8, else with the
	// first value.
	MOVQ R9, CX
	CMPQ CX, $64
	JAE  vmatchhigh
	MOVQ $-1, R8
	SHLQ CX, R8
	ANDQ R8, R13
	TZCNTQ R13, R8
	JCC  vend
	TZCNTQ AX, R8
	JCS   vendall
	ADDQ $64, R8
	JMP  vend

vmatchhigh:
	SUBQ $64, CX
	MOVQ $-1, R8
	SHLQ CX, R8
	ANDQ AX, R8
	TZCNTQ R8, R8
	JCS   vendall
	ADDQ $64, R8
	JMP  vend

vendall:
	MOVQ BX, R8

vend:
	MOVQ r+32(FP), DI
	MOVL R9, 4(DI)
	MOVL R8, 8(DI)

vok:
	MOVB $1, ret+40(FP)
	RET

vfail:
	VZEROUPPER
	MOVB $0, ret+40(FP)
	RET

// Broadcast constants of sipLinesAVX2: ':', 0x20, LF.
BCAST32(slConst, 0x00, 0x3a)
BCAST32(slConst, 0x20, 0x20)
BCAST32(slConst, 0x40, 0x0a)
GLOBL slConst<>(SB), RODATA|NOPTR, $0x60

// slKeep is 24 bytes of 0xff, then 24 of 0 (the name keys' masks).
DATA slKeep<>+0x00(SB)/8, $-1
DATA slKeep<>+0x08(SB)/8, $-1
DATA slKeep<>+0x10(SB)/8, $-1
DATA slKeep<>+0x18(SB)/8, $0
DATA slKeep<>+0x20(SB)/8, $0
DATA slKeep<>+0x28(SB)/8, $0
GLOBL slKeep<>(SB), RODATA|NOPTR, $0x30

// func sipLinesAVX2(data []byte, pos int, out *[sipLinesMax]sipLine, unfilled, idMask uint64) (n, next int, left uint64)
//
// Walks the header lines of data from pos while each is the common case
// and reports them in out (sipmask.go says what each record holds). The
// common case: a name of 1 to 23 bytes that sipNameEntries knows,
// directly followed by the colon (no byte below 0x20 or above 0x7f before
// it); a LF within data whose next byte is in data and is neither SP nor HT
// (no fold). Values are trimmed as DecodeFrom trims them. It stops at the
// first line that is not (the empty line ending the headers among them),
// when out is full or at the end of data (pos may be len(data)), and
// returns how many records it wrote, the offset of the line it stopped at
// and unfilled without the bits of the ids whose first line it recorded.
// A line whose id has its bit in neither unfilled nor idMask is passed over
// unrecorded, as DecodeFrom's loop passes it. The name keys, their hash and
// the table are DecodeFrom's own. The 64 bytes from a line start and each 32 after
// them are read whole when data holds them or they stay within one 4 KiB
// page (else the walk stops there). A byte read past len(data) can only
// make the walk stop: every line it records has its colon, its LF and the
// byte after the LF within data.
//
// Registers: SI data, BX len(data), DI line start, R8 out, CX n, R15
// unfilled; Y1 ':', Y2 0x20, Y3 LF.
TEXT ·sipLinesAVX2(SB), NOSPLIT, $0-80
	MOVQ data_base+0(FP), SI
	MOVQ data_len+8(FP), BX
	MOVQ pos+24(FP), DI
	MOVQ out+32(FP), R8
	MOVQ unfilled+40(FP), R15
	XORQ CX, CX
	VMOVDQU slConst<>+0x00(SB), Y1
	VMOVDQU slConst<>+0x20(SB), Y2
	VMOVDQU slConst<>+0x40(SB), Y3
	CMPQ    DI, BX
	JAE     sldone // no line at pos: nothing to read

slline:
	CMPQ CX, $const_sipLinesMax
	JAE  sldone
	LEAQ 64(DI), AX
	CMPQ AX, BX
	JBE  slread

	// Fewer than 64 bytes left: the window is read all the same when it
	// stays within one 4 KiB page.
	LEAQ (SI)(DI*1), AX
	ANDL $4095, AX
	CMPL AX, $4032
	JA   sldone

slread:
	// Colons (AX), stop bytes (DX: below 0x20 or above 0x7f, a signed
	// compare) among the 32 bytes at the line start and LFs (R9) among 64.
	VMOVDQU   (SI)(DI*1), Y0
	VMOVDQU   32(SI)(DI*1), Y7
	VPCMPEQB  Y1, Y0, Y4
	VPCMPGTB  Y0, Y2, Y5
	VPCMPEQB  Y3, Y0, Y6
	VPCMPEQB  Y3, Y7, Y8
	VPMOVMSKB Y4, AX
	VPMOVMSKB Y5, DX
	VPMOVMSKB Y6, R9
	VPMOVMSKB Y8, R10
	SHLQ      $32, R10
	ORQ       R10, R9
	ORL       AX, DX
	TZCNTL    DX, R10 // k: the first colon or stop byte
	JCS       sldone  // neither in 32 bytes
	BTL       R10, AX
	JCC       sldone  // a stop byte first
	TESTL     R10, R10
	JZ        sldone  // no name
	CMPL      R10, $24
	JAE       sldone  // longer than the keys

	// The name's keys: its words ORed with 0x20 and ANDed with the bytes
	// of slKeep at 24-k, 32-k and 40-k (0xff for the name's bytes, 0 past
	// them), without a branch on the name's length.
	MOVQ $0x2020202020202020, R12
	LEAQ slKeep<>+24(SB), DX
	SUBQ R10, DX
	MOVQ (SI)(DI*1), R11
	MOVQ 8(SI)(DI*1), R13
	MOVQ 16(SI)(DI*1), R14
	ORQ  R12, R11
	ORQ  R12, R13
	ORQ  R12, R14
	ANDQ (DX), R11  // k0
	ANDQ 8(DX), R13 // k1
	ANDQ 16(DX), R14 // k2

slkeys:
	// sipNameHash: ((k0 ^ k1*3 ^ k2*5) * mul) >> (64 - sipNameHashBits)
	LEAQ  (R13)(R13*2), AX
	XORQ  R11, AX
	LEAQ  (R14)(R14*4), DX
	XORQ  DX, AX
	MOVQ  $const_sipNameHashMul, DX
	IMULQ DX, AX
	SHRQ  $(64-const_sipNameHashBits), AX
	SHLQ  $5, AX // 32-byte entries
	LEAQ  ·sipNameEntries(SB), DX
	ADDQ  AX, DX
	CMPQ  sipNameEntry_k0(DX), R11
	JNE   sldone // not a known name
	CMPQ  sipNameEntry_k1(DX), R13
	JNE   sldone
	CMPQ  sipNameEntry_k2(DX), R14
	JNE   sldone
	MOVBQZX sipNameEntry_id(DX), R11 // id

	// The LF: in the 64 bytes already read (none is before the colon),
	// else 32 bytes at a time after them, read as the window above.
	TZCNTQ R9, R9
	JCC    slfound
	LEAQ   64(DI), AX

sllf:
	CMPQ AX, BX
	JAE  sldone // no LF
	LEAQ 32(AX), DX
	CMPQ DX, BX
	JBE  sllfread
	LEAQ (SI)(AX*1), DX
	ANDL $4095, DX
	CMPL DX, $4064
	JA   sldone

sllfread:
	VMOVDQU   (SI)(AX*1), Y6
	VPCMPEQB  Y3, Y6, Y6
	VPMOVMSKB Y6, R9
	TZCNTL    R9, R9
	JCC       sllfat
	ADDQ      $32, AX
	JMP       sllf

sllfat:
	ADDQ AX, R9
	SUBQ DI, R9

slfound:
	// R9: the LF's offset from the line start; R12: the next line.
	LEAQ    1(DI)(R9*1), R12
	CMPQ    R12, BX
	JAE     sldone // nothing after the LF
	MOVBLZX (SI)(R12*1), AX
	CMPB    AX, $0x20
	JEQ     sldone // a folded line
	CMPB    AX, $0x09
	JEQ     sldone

	// Passed over unless unfilled or idMask has the id's bit.
	MOVQ idMask+48(FP), AX
	ORQ  R15, AX
	BTQ  R11, AX
	JCC  slnext

	// The value: after the colon and one SP, before the LF and one CR.
	LEAQ    1(DI)(R10*1), R13 // value start
	LEAQ    (DI)(R9*1), R14   // value end
	CMPQ    R13, R14
	JAE     slrec
	CMPB    (SI)(R13*1), $0x20
	JNE     slcr
	INCQ    R13
	CMPQ    R13, R14
	JAE     slrec

slcr:
	CMPB -1(SI)(R14*1), $0x0d
	JNE  slends
	DECQ R14
	CMPQ R13, R14
	JAE  slrec

slends:
	// A byte at most SP left at either end: trimLWS's trim, out of line.
	CMPB (SI)(R13*1), $0x20
	JLS  sltrim
	CMPB -1(SI)(R14*1), $0x20
	JLS  sltrim

slrec:
	MOVQ  CX, AX
	SHLQ  $4, AX // 16-byte records
	ADDQ  R8, AX
	MOVL  R13, sipLine_vs(AX)
	MOVL  R14, sipLine_ve(AX)
	MOVL  DI, sipLine_start(AX)
	MOVB  R10, sipLine_nameLen(AX)
	MOVB  R11, sipLine_id(AX)
	BTRQ  R11, R15 // CF: the id's bit was in unfilled
	SETCS sipLine_first(AX)
	INCQ  CX

slnext:
	MOVQ R12, DI
	JMP  slline

sltrim:
	// trimLWS: SP, HT, CR and LF (DX, by bit) off both ends.
	MOVQ $0x100002600, DX

sltrimhead:
	MOVBLZX (SI)(R13*1), AX
	CMPL    AX, $0x20
	JA      sltrimtail
	BTQ     AX, DX
	JCC     sltrimtail
	INCQ    R13
	CMPQ    R13, R14
	JB      sltrimhead
	JMP     slrec

sltrimtail:
	MOVBLZX -1(SI)(R14*1), AX
	CMPL    AX, $0x20
	JA      slrec
	BTQ     AX, DX
	JCC     slrec
	DECQ    R14
	CMPQ    R13, R14
	JB      sltrimtail
	JMP     slrec

sldone:
	VZEROUPPER
	MOVQ CX, n+56(FP)
	MOVQ DI, next+64(FP)
	MOVQ R15, left+72(FP)
	RET
