"""How a serving command stops: on a signal whichever thread the kernel hands it to, and never by hanging."""

from __future__ import annotations

from tests.support.scripts import run_script


def test_a_signal_handed_to_another_thread_still_ends_the_wait() -> None:
    done = run_script(
        """
        import signal, threading
        from copied_snapshot_local_cloud.docdb_elastic.serving import stop_on_signals, until_stopped

        stopped = stop_on_signals()
        # The signal goes to this thread, not the main one: only the main thread runs Python's handlers.
        threading.Timer(0.2, lambda: signal.pthread_kill(threading.get_ident(), signal.SIGTERM)).start()
        until_stopped(stopped)
        print("stopped")
        """
    )
    assert (done.returncode, done.stdout) == (0, "stopped\n"), done.stderr


def test_a_stop_that_hangs_prints_where_and_ends_the_process() -> None:
    done = run_script(
        """
        import os, signal, time
        from copied_snapshot_local_cloud.docdb_elastic.serving import stop_on_signals, until_stopped

        stopped = stop_on_signals()
        os.kill(os.getpid(), signal.SIGTERM)
        until_stopped(stopped, stop_within=1)

        def a_stop_that_never_ends():
            time.sleep(60)

        a_stop_that_never_ends()
        """
    )
    assert done.returncode == 1
    assert "Timeout (0:00:01)!" in done.stderr
    assert "a_stop_that_never_ends" in done.stderr
