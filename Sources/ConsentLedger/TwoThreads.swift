import Dispatch

/// Runs `body` over `0..<count` cut at the middle, the two halves on two threads (parts 0 and 1),
/// or, below `minimum` items, all of it on this thread as part 0. `body` must write only within
/// its own range of any shared output, and use a part's own non-thread-safe contexts (a MAC, a
/// digest, a decoder) by part number.
public func onTwoThreads(count: Int, minimum: Int, _ body: (_ part: Int, _ range: Range<Int>) -> Void) {
    guard count >= minimum, count >= 2 else { return body(0, 0..<count) }
    nonisolated(unsafe) let body = body
    let half = count / 2
    DispatchQueue.concurrentPerform(iterations: 2) { part in body(part, part == 0 ? 0..<half : half..<count) }
}
