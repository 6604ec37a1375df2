/**
 * What every layer compressor is to its callers (compress.ts makes the in-process ones and picks one per codec,
 * program.ts runs a local program): its own module so that neither of those two has to import the other.
 */

/** A compressor fed chunk by chunk; `sink` gets the compressed bytes in order. */
export interface Compressor {
  /** Resolves when the compressor can take more (backpressure). */
  write(chunk: Buffer): Promise<void>;
  /** Flushes; resolves when every compressed byte has been given to the sink. */
  end(): Promise<void>;
  abort(): void;
}
