/** Samples the process's resident set size while a benchmark runs; stop() gives the peak in bytes. */
export class PeakRss {
  private peak = 0;
  private readonly timer: ReturnType<typeof setInterval>;
  constructor(intervalMs = 20) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }
  private sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}
