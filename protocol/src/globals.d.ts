// The protocol package runs on Node, workerd and browsers alike, so it sees no runtime's typings; it
// uses exactly this much of the Web Crypto API that all of them provide.
declare const crypto: { getRandomValues<T extends ArrayBufferView>(array: T): T };
