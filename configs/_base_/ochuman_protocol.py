# OCHuman's protocol (paper §4; the authors' scripts/test/lambda/ochuman/test_lambda_ochuman.sh
# lines 91-118): OCHuman has no training split. The model is trained and validated on
# COCO (best checkpoint by COCO val AP) and then tested on OCHuman val and on OCHuman
# test, each split with its own annotation file and its own detector boxes.
#
# data/ochuman/ layout: images/, annotations/ (the two files below) and the detection
# files. The val detections (Faster R-CNN, AP_H 27) are the file the authors test with.
# The authors publish no detections for the test split: put your detector's results
# for the test images there, in the same mmdet/COCO results format.
ochuman_data_root = 'data/ochuman/'
ochuman_splits = dict(
    val=dict(ann_file='annotations/ochuman_coco_format_val_range_0.00_1.00.json',
             bbox_file='data/ochuman/OCHuman_val2017_detections_AP_H_27_person.json'),
    test=dict(ann_file='annotations/ochuman_coco_format_test_range_0.00_1.00.json',
              bbox_file='data/ochuman/OCHuman_test2017_detections_person.json'))
# The test set of an OCHuman config: OCHuman val with GT boxes (its children set the test
# split's ann_file or a bbox_file). The config adds its own val_pipeline, which comes from
# its COCO base (one base cannot read another's variables).
ochuman_test_dataset = dict(
    type='MultiInstanceOCHumanDataset',
    data_root=ochuman_data_root,
    data_mode='topdown',
    ann_file=ochuman_splits['val']['ann_file'],
    data_prefix=dict(img='images/'),
    test_mode=True)
