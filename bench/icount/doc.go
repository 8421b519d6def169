// Command icount decodes one message N times so that valgrind can count the
// instructions one decode takes. Run it twice with different N and divide the
// difference by the difference in N, so that start-up cost cancels out:
//
//	valgrind --tool=cachegrind --cache-sim=no ./icount -n 1000 msg.sip
//	valgrind --tool=cachegrind --cache-sim=no ./icount -n 11000 msg.sip
//
// Instruction counts do not depend on the load of a shared machine, which is
// why decisions about the decoder were made with them (bench/results/sip.md).
package main
