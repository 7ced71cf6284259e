"""The distribution service: participation in distribution (参与分配) and an enterprise debtor's
执转破 or sealing-order path between courts (courtbus.domain.distribution), one task per
distribution, with its windows, overdue answers and hand-overs on timers."""
