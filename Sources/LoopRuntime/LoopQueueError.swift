/// What the queue's non-waiting operations refuse.
public enum LoopQueueError: Error, Equatable, CustomStringConvertible {
    /// `putNowait` on a full queue (asyncio's `QueueFull`).
    case full
    /// `getNowait` on an empty queue (asyncio's `QueueEmpty`).
    case empty
    /// `taskDone()` called more often than elements were put.
    case taskDoneTooManyTimes

    /// The error as a sentence.
    public var description: String {
        switch self {
        case .full: return "the queue is full"
        case .empty: return "the queue is empty"
        case .taskDoneTooManyTimes: return "taskDone() called more times than elements were put"
        }
    }
}
