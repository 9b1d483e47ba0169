"""The repair loop: read why tests fail to collect or run, and fix what is fixable.

``plan`` reads pytest's output and proposes ``Fix`` records (``fixes``), using what ``tables``
knows; ``apply`` carries them out in the build container and records each in the recipe;
``version`` supplies a version to VCS-versioned builds that cannot find one.
"""
