"""`stackstep configs`: review the config files a run's upgrades set aside (.rpmnew,
.dpkg-dist, ...): the INI line model (ini), the key-by-key merge (merge), the review's
operations on a host (review) and what a run left for it to review (load).
"""
