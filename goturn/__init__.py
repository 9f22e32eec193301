"""GOTURN (Held, Thrun, Savarese, ECCV 2016): a generic object tracker that
regresses the box from a target crop and a search crop, trained offline on
ALOV300++ videos and ImageNet DET images."""
