/**
 * Java's `String.hashCode`, which RocketMQ uses for two on-disk values: the consume-queue tag code
 * (`MessageExtBrokerInner.tagsString2tagsCode`) and the index-file key hash.
 * Both must match what a Java broker computes, so the hash runs over UTF-16 code units (what
 * `charCodeAt` returns, surrogate halves included) with 32-bit wrap-around: s[0]*31^(n-1) + … + s[n-1].
 */

/**
 * Java `String.hashCode()` of `s`: a signed 32-bit integer, 0 for the empty string. With `seed`
 * the hash of a string `p` it gives the hash of `p + s` without building that string.
 */
export function javaStringHashCode(s: string, seed = 0): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    // Math.imul keeps the product in 32 bits exactly as Java's int arithmetic does.
    h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  }
  return h;
}

/**
 * The consume-queue tag code of a message: the hash of its TAGS property, or 0 when it has none
 * (an empty string counts as none, as in RocketMQ). Consumers filter on this code first and re-check
 * the tag text, because different tags can share a hash.
 */
export function tagsCode(tags: string | undefined): number {
  if (tags === undefined || tags.length === 0) return 0;
  return javaStringHashCode(tags);
}
