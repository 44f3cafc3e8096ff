#if canImport(Glibc)
import Glibc
#endif

// libFuzzer's driver, started from our own main (SwiftPM names the executable's entry point, so
// libFuzzer's main() cannot be used): it parses the libFuzzer flags and calls traceFuzzOne.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in traceFuzzOne(data, size) })
