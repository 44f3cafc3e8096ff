// tick/tock: two callbacks take turns through callLater until a countdown runs out, then the
// loop stops. No tasks: plain callbacks and timers, as in asyncio's call_later example.
//
//   LOOPTRACE=ticktock.trace swift run tick-tock
import LoopRuntime

/// The countdown the callbacks share; touched on the loop thread only.
final class TickTock: @unchecked Sendable {
    let loop: EventLoop
    var remaining = 6

    init(loop: EventLoop) { self.loop = loop }

    func tick() {
        print("tick")
        remaining -= 1
        if remaining == 0 { loop.stop() } else { loop.callLater(.milliseconds(100), tock) }
    }

    func tock() {
        print("tock")
        remaining -= 1
        if remaining == 0 { loop.stop() } else { loop.callLater(.milliseconds(100), tick) }
    }
}

let loop = try EventLoop()  // records into $LOOPTRACE when it is set
let clock = TickTock(loop: loop)
loop.callSoon(clock.tick)
try loop.runForever()
loop.close()
