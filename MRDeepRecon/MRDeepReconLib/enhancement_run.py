"""One background enhancement as the panel follows it (:class:`EnhancementRun`): the input node
and the output node chosen when it started, and the result stored into the output node."""

from __future__ import annotations

from .background import BackgroundEnhancement
from .background_run import BackgroundRun


class EnhancementRun(BackgroundRun):
    """A started background enhancement of ``input_node`` into ``output_node`` (``None``: a new
    ``<input>_DLR`` node when it succeeds). ``poll(logic)``: :meth:`BackgroundRun.poll`."""

    def __init__(self, job: BackgroundEnhancement, input_node, output_node=None) -> None:
        super().__init__(job)
        self.input_node = input_node
        self.output_node = output_node

    def _store(self, logic):
        """The result stored with ``logic`` (:meth:`MRDeepReconLogic.store_result`) into the
        output node, or into a new node when the output node was removed from the scene meanwhile."""
        output = self.output_node
        if output is not None and output.GetScene() is None:  # removed while the run went on
            output = None
        return self.job.finish(logic, self.input_node, output)
