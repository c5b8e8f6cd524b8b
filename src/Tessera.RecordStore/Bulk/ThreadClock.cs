using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Tessera.RecordStore.Bulk;

/// <summary>
/// The CPU time the current thread has used, for timing stages that run on many threads of a busy machine (where
/// wall time counts the waits for a core too); wall time where the system does not say.
/// </summary>
public static class ThreadClock
{
    private const int ThreadCpuClock = 3; // CLOCK_THREAD_CPUTIME_ID on Linux

    private static readonly bool Available = OperatingSystem.IsLinux() && TryRead(out _);

    /// <summary>A reading to subtract from a later one on the same thread.</summary>
    public static TimeSpan Now() => Available && TryRead(out var cpu) ? cpu : Stopwatch.GetElapsedTime(0);

    /// <summary>Runs work and adds the time it took on this thread to <paramref name="total"/> (ticks).</summary>
    public static T Measure<T>(Func<T> work, ref long total)
    {
        ArgumentNullException.ThrowIfNull(work);
        var started = Now();
        try
        {
            return work();
        }
        finally
        {
            Interlocked.Add(ref total, (Now() - started).Ticks);
        }
    }

    private static bool TryRead(out TimeSpan time)
    {
        try
        {
            if (ClockGetTime(ThreadCpuClock, out var spec) == 0)
            {
                time = TimeSpan.FromTicks((spec.Seconds * TimeSpan.TicksPerSecond) + (spec.Nanoseconds / 100));
                return true;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not a libc system: wall time it is.
        }

        time = TimeSpan.Zero;
        return false;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

#pragma warning disable SYSLIB1054 // a source-generated import would need unsafe code for this one call
    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);
#pragma warning restore SYSLIB1054
}
